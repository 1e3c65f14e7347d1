//! A side-by-side line diff of two sources, for the Revisions tab.

use leptos::prelude::*;

/// One row of a side-by-side diff: a line on the left, on the right, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub left: Option<(usize, String)>,
    pub right: Option<(usize, String)>,
    pub kind: Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Same,
    Removed,
    Added,
    Changed,
}

/// Beyond this many cells the middle is shown as replaced rather than
/// matched line by line: the table would cost more than it is worth.
const MAX_CELLS: usize = 4_000_000;

/// The rows of the diff of `a` and `b`: the longest common subsequence of
/// lines between their common start and end; removed and added lines side
/// by side are a change.
pub(crate) fn diff_lines(a: &str, b: &str) -> Vec<Row> {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    // Edit script of the middle: Some(true) same, Some(false) removed, None added.
    let mut ops: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    if am.len() * bm.len() <= MAX_CELLS {
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                ops.push((Some(i), Some(j)));
                i += 1;
                j += 1;
            } else if j < m && (i == n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j]) {
                ops.push((None, Some(j)));
                j += 1;
            } else {
                ops.push((Some(i), None));
                i += 1;
            }
        }
    } else {
        ops.extend((0..am.len()).map(|i| (Some(i), None)));
        ops.extend((0..bm.len()).map(|j| (None, Some(j))));
    }

    let mut rows: Vec<Row> = (0..prefix).map(|i| same(i, a[i])).collect();
    let mut removed: Vec<usize> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    let flush = |rows: &mut Vec<Row>, removed: &mut Vec<usize>, added: &mut Vec<usize>| {
        for k in 0..removed.len().max(added.len()) {
            let left = removed.get(k).map(|&i| (prefix + i + 1, am[i].to_owned()));
            let right = added.get(k).map(|&j| (prefix + j + 1, bm[j].to_owned()));
            let kind = match (&left, &right) {
                (Some(_), Some(_)) => Change::Changed,
                (Some(_), None) => Change::Removed,
                _ => Change::Added,
            };
            rows.push(Row { left, right, kind });
        }
        removed.clear();
        added.clear();
    };
    for op in ops {
        match op {
            (Some(i), Some(j)) => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push(Row {
                    left: Some((prefix + i + 1, am[i].to_owned())),
                    right: Some((prefix + j + 1, bm[j].to_owned())),
                    kind: Change::Same,
                });
            }
            (Some(i), None) => removed.push(i),
            (None, Some(j)) => added.push(j),
            (None, None) => {}
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    for k in 0..suffix {
        let (i, j) = (a.len() - suffix + k, b.len() - suffix + k);
        rows.push(Row {
            left: Some((i + 1, a[i].to_owned())),
            right: Some((j + 1, b[j].to_owned())),
            kind: Change::Same,
        });
    }
    rows
}

fn same(i: usize, line: &str) -> Row {
    Row {
        left: Some((i + 1, line.to_owned())),
        right: Some((i + 1, line.to_owned())),
        kind: Change::Same,
    }
}

/// The diff as a table: old on the left, new on the right.
#[component]
pub(crate) fn Diff(rows: Vec<Row>, left_title: String, right_title: String) -> impl IntoView {
    let changes = rows.iter().filter(|r| r.kind != Change::Same).count();
    view! {
        <p class="muted small" role="status">
            {if changes == 0 { "The two revisions are the same.".to_owned() } else { format!("{changes} changed line{}", if changes == 1 { "" } else { "s" }) }}
        </p>
        <div class="diff-scroll">
            <table class="diff">
                <thead>
                    <tr>
                        <th scope="col" colspan="2">{left_title}</th>
                        <th scope="col" colspan="2">{right_title}</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let (lclass, rclass, lmark, rmark) = match row.kind {
                                Change::Same => ("", "", "", ""),
                                Change::Removed => ("diff-del", "diff-empty", "−", ""),
                                Change::Added => ("diff-empty", "diff-add", "", "+"),
                                Change::Changed => ("diff-del", "diff-add", "−", "+"),
                            };
                            let (ln, lt) = row.left.map_or((String::new(), String::new()), |(n, t)| (n.to_string(), t));
                            let (rn, rt) = row.right.map_or((String::new(), String::new()), |(n, t)| (n.to_string(), t));
                            view! {
                                <tr>
                                    <td class=format!("diff-num {lclass}")>{ln}</td>
                                    <td class=format!("diff-line {lclass}")><span class="diff-sign" aria-label=if lmark.is_empty() { "" } else { "removed" }>{lmark}</span>{lt}</td>
                                    <td class=format!("diff-num {rclass}")>{rn}</td>
                                    <td class=format!("diff-line {rclass}")><span class="diff-sign" aria-label=if rmark.is_empty() { "" } else { "added" }>{rmark}</span>{rt}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expected: &[(Change, Option<usize>, Option<usize>)]) {
        let got: Vec<(Change, Option<usize>, Option<usize>)> = diff_lines(a, b)
            .into_iter()
            .map(|r| (r.kind, r.left.map(|l| l.0), r.right.map(|r| r.0)))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn lines_are_matched_and_changes_paired() {
        use Change::*;
        check(
            "a\nb\nc",
            "a\nb\nc",
            &[
                (Same, Some(1), Some(1)),
                (Same, Some(2), Some(2)),
                (Same, Some(3), Some(3)),
            ],
        );
        check(
            "a\nb\nc",
            "a\nx\nc",
            &[
                (Same, Some(1), Some(1)),
                (Changed, Some(2), Some(2)),
                (Same, Some(3), Some(3)),
            ],
        );
        check(
            "a\nc",
            "a\nb\nc",
            &[
                (Same, Some(1), Some(1)),
                (Added, None, Some(2)),
                (Same, Some(2), Some(3)),
            ],
        );
        check(
            "a\nb\nc\nd",
            "a\nd",
            &[
                (Same, Some(1), Some(1)),
                (Removed, Some(2), None),
                (Removed, Some(3), None),
                (Same, Some(4), Some(2)),
            ],
        );
        check(
            "x\na\ny",
            "a\nz",
            &[
                (Removed, Some(1), None),
                (Same, Some(2), Some(1)),
                (Changed, Some(3), Some(2)),
            ],
        );
    }
}
