pub mod convert;
pub mod dates;
