//! Components shared by several pages.

pub(crate) mod diff;
pub(crate) mod editor;
pub(crate) mod execute;
pub(crate) mod revisions;
pub(crate) mod topology;
pub(crate) mod triggers;

// Issue 8: executions in the browser.
pub(crate) mod browser;
pub(crate) mod chart;
pub(crate) mod gantt;
pub(crate) mod json_tree;
pub(crate) mod logs;
pub(crate) mod result_table;
pub(crate) mod status;
