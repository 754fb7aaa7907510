//! Human passwords: the policy a new password must meet (NIST SP 800-63B-4) and Argon2id
//! hashing that cannot be turned into a denial of service.

mod hasher;
mod input;
mod policy;
mod worker;

pub use hasher::{HashError, HashParams, PasswordHasher, Verification};
pub use input::{InputError, Password};
pub use policy::{PersonalDetails, PolicyViolation, check_new_password};
