//! Domain newtypes shared by every layer, each built only by parsing, so an invalid value
//! cannot exist past the boundary where it arrived.

mod email;
mod user;

pub use email::{Email, EmailError};
pub use user::{UnknownStatus, UserId, UserStatus};
