//! Components shared by several pages.

// FIXME(issues 7, 8): the stubs are not used yet.
#![allow(dead_code)]

pub(crate) mod editor;
pub(crate) mod execute;
pub(crate) mod topology;
