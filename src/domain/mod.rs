//! Domain newtypes shared by every layer, each built only by parsing, so an invalid value
//! cannot exist past the boundary where it arrived.

mod email;
mod redirect_uri;
mod scope;
mod user;

pub use email::{Email, EmailError};
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use scope::{ADMIN_SCOPE_PREFIX, KNOWN_SCOPES, Scopes, UnknownScope};
pub use user::{UnknownStatus, UserId, UserStatus};
