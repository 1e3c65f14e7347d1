//! YAML highlighting, one line at a time, to HTML.
//!
//! A line's colours depend only on the line and on whether it is inside a
//! block scalar (`description: |`), so the editor re-highlights only the
//! lines a keystroke changed, and the lines after them while that state
//! differs from before.

/// What a line inherits from the lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LineState {
    /// Inside a block scalar: the indentation of the key that opened it;
    /// lines indented deeper (or blank) are its text.
    pub block: Option<usize>,
}

/// Appends `line` as HTML to `out`; returns the state of the next line.
pub(crate) fn highlight_line(line: &str, state: LineState, out: &mut String) -> LineState {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if let Some(parent) = state.block
        && (line.trim().is_empty() || indent > parent)
    {
        span(out, "s", line);
        return state;
    }
    out.push_str(&line[..indent]);
    let mut rest = &line[indent..];
    if rest.starts_with('#') {
        span(out, "c", rest);
        return LineState::default();
    }
    if rest == "---" || rest == "..." {
        span(out, "p", rest);
        return LineState::default();
    }
    // List dashes.
    while let Some(after) = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
    {
        span(out, "p", "-");
        if rest.len() > 1 {
            out.push(' ');
        }
        rest = after;
    }
    let key_indent = line.len() - rest.len();
    let mut opens_block = false;
    if let Some(colon) = key_end(rest) {
        span(out, "k", &rest[..colon]);
        span(out, "p", ":");
        rest = &rest[colon + 1..];
        let value = rest.trim();
        let value = value.split(" #").next().unwrap_or(value).trim();
        opens_block = value.starts_with('|') || value.starts_with('>');
    }
    value(rest, out);
    LineState {
        block: opens_block.then_some(key_indent),
    }
}

/// Highlights a whole text; returns one HTML string per line.
pub(crate) fn highlight_all(text: &str) -> (Vec<String>, Vec<LineState>) {
    let mut html = Vec::new();
    let mut states = Vec::new();
    let mut state = LineState::default();
    for line in text.split('\n') {
        states.push(state);
        let mut out = String::new();
        state = highlight_line(line, state, &mut out);
        html.push(out);
    }
    (html, states)
}

/// The end of a mapping key at the start of `text`: a `:` followed by a
/// space or the end, outside quotes and before any `{`, `[` or `#`.
fn key_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    match bytes.first() {
        None | Some(b'{' | b'[' | b'#' | b'|' | b'>' | b'&' | b'*' | b'!') => return None,
        Some(b'"' | b'\'') => {
            let quote = bytes[0];
            let close = text[1..].find(quote as char)? + 1;
            return (bytes.get(close + 1) == Some(&b':')
                && matches!(bytes.get(close + 2), None | Some(b' ')))
            .then_some(close + 1);
        }
        _ => {}
    }
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return Some(i),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            _ => {}
        }
    }
    None
}

/// A value: strings, numbers, booleans, comments, `{{ expressions }}`.
fn value(text: &str, out: &mut String) {
    let trimmed = text.trim_start();
    out.push_str(&text[..text.len() - trimmed.len()]);
    let mut rest = trimmed;
    if rest.is_empty() {
        return;
    }
    if rest.starts_with('#') {
        span(out, "c", rest);
        return;
    }
    if rest.starts_with('"') || rest.starts_with('\'') {
        let quote = rest.as_bytes()[0] as char;
        let mut end = rest.len();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote == '"' {
                escaped = true;
            } else if c == quote {
                end = i + 1;
                break;
            }
        }
        string(out, &rest[..end]);
        rest = &rest[end..];
        comment_or_plain(rest, out);
        return;
    }
    // A plain scalar, up to a comment.
    let (body, comment) = match rest.find(" #") {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let word = body.trim_end();
    let class = match word {
        "true" | "false" | "True" | "False" | "TRUE" | "FALSE" | "null" | "~" | "Null" | "NULL" => {
            Some("b")
        }
        _ if word.parse::<f64>().is_ok() => Some("n"),
        _ if word.starts_with('|')
            || word.starts_with('>')
            || word.starts_with('[')
            || word.starts_with('{') && !word.starts_with("{{") =>
        {
            Some("p")
        }
        _ => None,
    };
    match class {
        Some("p") => flow_collection(body, out),
        Some(class) => span(out, class, body),
        None => string(out, body),
    }
    comment_or_plain(comment, out);
}

fn comment_or_plain(text: &str, out: &mut String) {
    let trimmed = text.trim_start();
    out.push_str(&text[..text.len() - trimmed.len()]);
    if trimmed.starts_with('#') {
        span(out, "c", trimmed);
    } else {
        escape(out, trimmed);
    }
}

/// `[a, b]`, `{k: v}`: punctuation and the words inside.
fn flow_collection(text: &str, out: &mut String) {
    let mut word = String::new();
    for c in text.chars() {
        if "[]{},|>-+".contains(c) {
            if !word.is_empty() {
                string(out, &word);
                word.clear();
            }
            span(out, "p", c.encode_utf8(&mut [0; 4]));
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        string(out, &word);
    }
}

/// A string, with its `{{ expressions }}` set apart.
fn string(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            span(out, "s", &rest[..start]);
        }
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        span(out, "e", &rest[start..end]);
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        span(out, "s", rest);
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    out.push_str("<span class=\"t");
    out.push_str(class);
    out.push_str("\">");
    escape(out, text);
    out.push_str("</span>");
}

pub(crate) fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str]) {
        let (html, _) = highlight_all(text);
        assert_eq!(html, expected);
    }

    #[test]
    fn keys_values_comments_and_expressions() {
        check(
            "id: hello # a flow\n  - id: t\n    message: \"hi {{ inputs.x }}\"\n    n: 3\n    ok: true",
            &[
                r#"<span class="tk">id</span><span class="tp">:</span> <span class="ts">hello</span> <span class="tc"># a flow</span>"#,
                r#"  <span class="tp">-</span> <span class="tk">id</span><span class="tp">:</span> <span class="ts">t</span>"#,
                r#"    <span class="tk">message</span><span class="tp">:</span> <span class="ts">&quot;hi </span><span class="te">{{ inputs.x }}</span><span class="ts">&quot;</span>"#,
                r#"    <span class="tk">n</span><span class="tp">:</span> <span class="tn">3</span>"#,
                r#"    <span class="tk">ok</span><span class="tp">:</span> <span class="tb">true</span>"#,
            ],
        );
    }

    #[test]
    fn block_scalars_last_while_indented() {
        let (html, states) =
            highlight_all("description: |\n  a: b\n\n  # not a comment\ntasks: []");
        assert_eq!(html[1], r#"<span class="ts">  a: b</span>"#);
        assert_eq!(html[3], r#"<span class="ts">  # not a comment</span>"#);
        assert!(html[4].starts_with(r#"<span class="tk">tasks</span>"#));
        assert_eq!(states[4], LineState { block: Some(0) });
        assert_eq!(states[1], LineState { block: Some(0) });
        let (html, _) = highlight_all("  - id: t\n    message: >\n      text: x\n    level: INFO");
        assert_eq!(html[2], r#"<span class="ts">      text: x</span>"#);
        assert!(html[3].contains(r#"<span class="tk">level</span>"#));
    }

    #[test]
    fn markup_is_escaped() {
        check(
            "sql: SELECT a <b> & c",
            &[
                r#"<span class="tk">sql</span><span class="tp">:</span> <span class="ts">SELECT a &lt;b&gt; &amp; c</span>"#,
            ],
        );
    }
}
