//! `site-bindgen INPUT.wasm OUT_DIR`: writes `mortar.js` and
//! `mortar_bg.wasm` for the browser (`--target web`), without TypeScript
//! declarations and without the name and producers sections, which only
//! make the bundle larger.

use std::path::PathBuf;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(out_dir), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: site-bindgen INPUT.wasm OUT_DIR");
    };
    let (input, out_dir) = (PathBuf::from(input), PathBuf::from(out_dir));
    if !input.is_file() {
        bail!(
            "{} does not exist: build the frontend crate for wasm32 first (scripts/build-site.sh does)",
            input.display()
        );
    }
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .out_name("mortar")
        .web(true)?
        .typescript(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&out_dir)
        .with_context(|| format!("binding {} into {}", input.display(), out_dir.display()))
}
