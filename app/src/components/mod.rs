//! Components shared by several pages.

pub(crate) mod diff;
pub(crate) mod editor;
pub(crate) mod execute;
pub(crate) mod revisions;
pub(crate) mod topology;
