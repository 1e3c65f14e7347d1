//! The editor's text operations, on Rust strings and byte offsets: the
//! browser's textarea counts in UTF-16, so offsets are converted at the edge.

/// A text after an edit, with the selection to set (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

const INDENT: &str = "  ";

pub(crate) fn utf16_to_byte(text: &str, units: u32) -> usize {
    // Flows are mostly ASCII, where both counts agree: no walk.
    if text.is_ascii() {
        return (units as usize).min(text.len());
    }
    let mut count = 0u32;
    for (i, c) in text.char_indices() {
        if count >= units {
            return i;
        }
        count += c.len_utf16() as u32;
    }
    text.len()
}

pub(crate) fn byte_to_utf16(text: &str, byte: usize) -> u32 {
    if text.is_ascii() {
        return byte.min(text.len()) as u32;
    }
    text[..floor_char(text, byte)]
        .chars()
        .map(|c| c.len_utf16() as u32)
        .sum()
}

fn floor_char(text: &str, mut byte: usize) -> usize {
    byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, byte: usize) -> (u32, u32) {
    let byte = floor_char(text, byte);
    let before = &text[..byte];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() as u32 + 1)
}

/// The byte offset of a 1-based line and column, clamped to the text.
pub(crate) fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    text[start..end]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(end, |(i, _)| start + i)
}

/// The start of the line holding `byte`.
pub(crate) fn line_start(text: &str, byte: usize) -> usize {
    text[..floor_char(text, byte)]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

fn line_end(text: &str, byte: usize) -> usize {
    text[byte..].find('\n').map_or(text.len(), |i| byte + i)
}

/// Replaces `start..end` with `with`, the caret after it.
pub(crate) fn replace(text: &str, start: usize, end: usize, with: &str) -> Edit {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..start]);
    out.push_str(with);
    out.push_str(&text[end..]);
    let caret = start + with.len();
    Edit {
        text: out,
        start: caret,
        end: caret,
    }
}

/// Tab: spaces to the next stop, or every selected line one level deeper.
pub(crate) fn indent(text: &str, start: usize, end: usize) -> Edit {
    if !text[start..end].contains('\n') {
        let column = text[line_start(text, start)..start].chars().count();
        let spaces = INDENT.len() - column % INDENT.len();
        return replace(text, start, end, &" ".repeat(spaces));
    }
    map_lines(text, start, end, |line| {
        if line.trim().is_empty() {
            line.to_owned()
        } else {
            format!("{INDENT}{line}")
        }
    })
}

/// Shift+Tab: every selected line (or the caret's) one level shallower.
pub(crate) fn dedent(text: &str, start: usize, end: usize) -> Edit {
    map_lines(text, start, end, |line| {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        line[spaces.min(INDENT.len())..].to_owned()
    })
}

/// Ctrl+/: comments the selected lines out, or back in if all are comments.
pub(crate) fn toggle_comment(text: &str, start: usize, end: usize) -> Edit {
    let (first, last) = line_range(text, start, end);
    let lines: Vec<&str> = text[first..last].split('\n').collect();
    let filled: Vec<&&str> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
    let all_comments = !filled.is_empty() && filled.iter().all(|l| l.trim_start().starts_with('#'));
    let depth = filled
        .iter()
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    map_lines(text, start, end, |line| {
        if line.trim().is_empty() {
            line.to_owned()
        } else if all_comments {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            let rest = &line[spaces + 1..];
            format!(
                "{}{}",
                &line[..spaces],
                rest.strip_prefix(' ').unwrap_or(rest)
            )
        } else {
            format!("{}# {}", &line[..depth], &line[depth..])
        }
    })
}

/// Enter: a new line indented like this one, deeper after a `key:` and
/// aligned with the content after a list dash.
pub(crate) fn newline(text: &str, start: usize, end: usize) -> Edit {
    let begin = line_start(text, start);
    let line = &text[begin..start];
    let spaces = line.len() - line.trim_start_matches(' ').len();
    let mut depth = spaces;
    let mut rest = line[spaces..].trim_end();
    while let Some(after) = rest.strip_prefix("- ") {
        depth += 2;
        rest = after.trim_start();
    }
    let code = rest.split(" #").next().unwrap_or(rest).trim_end();
    if code.ends_with(':') && !code.trim_start().starts_with('#') {
        depth = if line[spaces..].starts_with("- ") {
            depth + INDENT.len()
        } else {
            spaces + INDENT.len()
        };
    }
    if rest.is_empty() && line[spaces..].trim() == "-" {
        depth = spaces + 2;
    }
    replace(text, start, end, &format!("\n{}", " ".repeat(depth)))
}

/// Byte ranges of every occurrence of `needle`, ignoring ASCII case.
pub(crate) fn find_all(text: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let hay = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    hay.match_indices(&needle)
        .map(|(i, m)| (i, i + m.len()))
        .collect()
}

/// The lines that differ between two versions: the common prefix length,
/// and the end of the changed part in the old and in the new lines.
pub(crate) fn changed_lines<A: AsRef<str>>(old: &[A], new: &[&str]) -> (usize, usize, usize) {
    let max = old.len().min(new.len());
    let prefix = old
        .iter()
        .zip(new)
        .take_while(|(a, b)| a.as_ref() == **b)
        .count()
        .min(max);
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a.as_ref() == **b)
        .count();
    (prefix, old.len() - suffix, new.len() - suffix)
}

/// The whole lines a selection touches: start of the first, end of the last.
fn line_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    // A selection ending at the start of a line does not take that line.
    let end = if end > start && text[..end].ends_with('\n') {
        end - 1
    } else {
        end
    };
    (line_start(text, start), line_end(text, end))
}

fn map_lines(text: &str, start: usize, end: usize, f: impl Fn(&str) -> String) -> Edit {
    let (first, last) = line_range(text, start, end);
    let mapped: Vec<String> = text[first..last].split('\n').map(f).collect();
    let block = mapped.join("\n");
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..first]);
    out.push_str(&block);
    out.push_str(&text[last..]);
    if start == end {
        // Keep the caret on the same character of its line.
        let old_line = &text[first..line_end(text, first)];
        let new_line = &out[first..line_end(&out, first)];
        let shift = new_line.len() as isize - old_line.len() as isize;
        let caret = (start as isize + shift)
            .clamp(first as isize, (first + new_line.len()) as isize) as usize;
        return Edit {
            start: caret,
            end: caret,
            text: out,
        };
    }
    Edit {
        start: first,
        end: first + block.len(),
        text: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|` marks the caret, or `[` and `]` the selection.
    fn check(op: fn(&str, usize, usize) -> Edit, input: &str, expected: &str) {
        let (text, start, end) = parse(input);
        let edit = op(&text, start, end);
        let mut shown = edit.text.clone();
        if edit.start == edit.end {
            shown.insert(edit.start, '|');
        } else {
            shown.insert(edit.end, ']');
            shown.insert(edit.start, '[');
        }
        assert_eq!(shown, expected);
    }

    fn parse(input: &str) -> (String, usize, usize) {
        if let Some(caret) = input.find('|') {
            return (input.replacen('|', "", 1), caret, caret);
        }
        let start = input.find('[').unwrap();
        let end = input.find(']').unwrap() - 1;
        (input.replacen('[', "", 1).replacen(']', "", 1), start, end)
    }

    #[test]
    fn enter_keeps_and_deepens_indentation() {
        check(newline, "tasks:|", "tasks:\n  |");
        check(newline, "  - id: t|", "  - id: t\n    |");
        check(
            newline,
            "  - id: t\n    message: hi|",
            "  - id: t\n    message: hi\n    |",
        );
        check(newline, "  - task:|", "  - task:\n      |");
        check(newline, "    then: # c|", "    then: # c\n      |");
    }

    #[test]
    fn tab_and_shift_tab_on_selections() {
        check(indent, "a|", "a |");
        check(indent, "[a\nb]", "[  a\n  b]");
        check(dedent, "[  a\n    b]\nc", "[a\n  b]\nc");
        check(dedent, "   x|", " x|");
        check(indent, "[a\n\nb\n]c", "[  a\n\n  b]\nc");
    }

    #[test]
    fn ctrl_slash_toggles_comments() {
        check(toggle_comment, "  [a\n  b]", "[  # a\n  # b]");
        check(toggle_comment, "[  # a\n  # b]", "[  a\n  b]");
        check(toggle_comment, "x: |1", "# x: |1");
    }

    #[test]
    fn offsets_lines_and_changes() {
        let text = "é: a\nb: 😀c";
        assert_eq!(utf16_to_byte(text, 3), 4);
        assert_eq!(byte_to_utf16(text, text.len()), 11);
        assert_eq!(line_col(text, text.find('c').unwrap()), (2, 5));
        assert_eq!(offset_of(text, 2, 4), text.find('😀').unwrap());
        assert_eq!(offset_of(text, 9, 1), text.len());
        assert_eq!(
            changed_lines(&["a", "b", "c"], &["a", "x", "y", "c"]),
            (1, 2, 3)
        );
        assert_eq!(changed_lines(&["a", "a"], &["a", "a", "a"]), (2, 2, 3));
        assert_eq!(find_all("Log log", "LOG"), vec![(0, 3), (4, 7)]);
    }
}
