//! The threads that do the Argon2 work. Each keeps one Argon2 memory area (19 MiB with the
//! default parameters) for its whole life instead of allocating and faulting in a fresh one
//! for every hash: faster, and memory stays at one area per core however busy sign-in gets.

use std::sync::{Arc, Mutex, PoisonError, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, PasswordVerifier as _, Version,
};
use subtle::ConstantTimeEq;

use super::hasher::HashError;

/// Length of the hash output we write, in bytes (Argon2's and the PHC format's default).
const OUTPUT_LEN: usize = 32;
/// Length of the random salt, in bytes (the PHC format's recommendation).
const SALT_LEN: usize = 16;
/// Argon2 version 1.3, as it appears in PHC strings (`v=19`).
const VERSION_19: u32 = 0x13;

/// A piece of hashing work for the pool.
pub type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// One hashing thread's tools: Argon2 with the configured parameters and its memory area.
pub struct Worker {
    argon: Argon2<'static>,
    params: Params,
    /// Allocated at the first hash, so an idle server does not hold it.
    memory: Vec<Block>,
}

impl Worker {
    fn new(params: &Params) -> Self {
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            params: params.clone(),
            memory: Vec::new(),
        }
    }

    /// This thread's memory area, allocated on first use.
    fn memory(&mut self) -> &mut [Block] {
        if self.memory.is_empty() {
            let blocks = usize::try_from(self.params.m_cost()).unwrap_or(0);
            self.memory = vec![Block::default(); blocks];
        }
        &mut self.memory
    }

    /// A PHC string for `password` with a fresh random salt.
    pub fn hash(&mut self, password: &[u8]) -> Result<String, HashError> {
        let internal = |e: &dyn std::fmt::Display| HashError::Internal(e.to_string());
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| internal(&e))?;
        let mut out = [0u8; OUTPUT_LEN];
        let argon = self.argon.clone();
        argon
            .hash_password_into_with_memory(password, &salt, &mut out, self.memory())
            .map_err(|e| internal(&e))?;
        let phc = PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(VERSION_19),
            params: ParamsString::try_from(&self.params).map_err(|e| internal(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| internal(&e))?),
            hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `phc`. Hashes made with the configured parameters reuse
    /// this thread's memory; any other valid PHC string is checked the ordinary way.
    pub fn verify(&mut self, password: &[u8], phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let same_params = Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == self.params.m_cost()
                && p.t_cost() == self.params.t_cost()
                && p.p_cost() == self.params.p_cost()
        });
        let fast =
            parsed.algorithm == ARGON2ID_IDENT && parsed.version == Some(VERSION_19) && same_params;
        match (&parsed.salt, &parsed.hash) {
            (Some(salt), Some(expected)) if fast => {
                let mut out = vec![0u8; expected.len()];
                let argon = self.argon.clone();
                argon
                    .hash_password_into_with_memory(
                        password,
                        salt.as_ref(),
                        &mut out,
                        self.memory(),
                    )
                    .is_ok()
                    && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
            }
            _ => self.argon.verify_password(password, phc).is_ok(),
        }
    }
}

/// Starts `count` threads that run jobs until the sender is dropped.
pub fn start(params: &Params, count: usize) -> Result<mpsc::Sender<Job>, HashError> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..count {
        let receiver = receiver.clone();
        let params = params.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{n}"))
            .spawn(move || {
                let mut worker = Worker::new(&params);
                loop {
                    let next = receiver
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    match next {
                        Ok(job) => job(&mut worker),
                        Err(_) => break,
                    }
                }
            })
            .map_err(|e| HashError::Internal(format!("cannot start a hashing thread: {e}")))?;
    }
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

    fn params() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[test]
    fn our_hashes_and_the_crates_hashes_check_each_other() {
        let mut worker = Worker::new(&params());
        let ours = worker.hash(b"marble kettle orbit saxophone").unwrap();
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(
            stock
                .verify_password(b"marble kettle orbit saxophone", ours.as_str())
                .is_ok()
        );
        assert!(
            stock
                .verify_password(b"marble kettle orbit trombone", ours.as_str())
                .is_err()
        );

        let theirs = stock
            .hash_password(b"marble kettle orbit saxophone")
            .unwrap()
            .to_string();
        assert!(worker.verify(b"marble kettle orbit saxophone", &theirs));
        assert!(!worker.verify(b"marble kettle orbit trombone", &theirs));
        assert!(worker.verify(b"marble kettle orbit saxophone", &ours));
        assert!(!worker.verify(b"", &ours));
        assert!(!worker.verify(b"marble kettle orbit saxophone", "not a phc string"));
    }

    #[test]
    fn hashes_with_other_parameters_still_verify() {
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 2, 1, None).unwrap(),
        );
        let phc = older
            .hash_password(b"marble kettle orbit saxophone")
            .unwrap()
            .to_string();
        let mut worker = Worker::new(&params());
        assert!(worker.verify(b"marble kettle orbit saxophone", &phc));
        assert!(!worker.verify(b"wrong", &phc));
    }
}
