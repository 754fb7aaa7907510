//! Argon2id hashing on a small pool of dedicated threads (one per core), behind a semaphore:
//! at most one hash per core runs at once, a bounded number wait, and the rest are told
//! "busy" at once, so a sign-in flood costs a fixed amount of memory and never starves the
//! async workers that issue tokens.
//!
//! Dedicated threads rather than tokio's blocking pool: each keeps its own Argon2 memory area
//! (see `worker.rs`), so memory is one area per core however many sign-ins are waiting
//! (measured in `benches/load/`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, Version,
};
use tokio::sync::{Semaphore, oneshot};

use super::input::Password;
use super::worker::{self, Job, Worker};

/// Argon2id cost parameters (OWASP's minimum: 19,456 KiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are queued or the wait was too long: answer 503 and try again.
    #[error("password hashing is busy")]
    Busy,
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash used other parameters: store a new one now that we know the password.
    pub needs_rehash: bool,
}

#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Feeds the worker threads; when the last hasher handle goes, they finish and exit.
    jobs: Mutex<mpsc::Sender<Job>>,
    params: HashParams,
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    /// Verified against when the account does not exist, so that takes as long as a real
    /// check and timing does not reveal which emails have accounts.
    dummy: String,
}

impl PasswordHasher {
    /// `workers` hashes run at once (the core count); `max_waiting` more may queue for up to
    /// `max_wait`.
    pub fn new(
        params: HashParams,
        workers: usize,
        max_waiting: usize,
        max_wait: Duration,
    ) -> Result<Self, HashError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Params(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params.clone());
        let workers = workers.max(1);
        let jobs = worker::start(&argon_params, workers)?;
        let dummy_input = uuid::Uuid::new_v4().simple().to_string();
        let dummy = argon
            .hash_password(dummy_input.as_bytes())
            .map_err(|e| HashError::Internal(e.to_string()))?
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(jobs),
                params,
                running: Semaphore::new(workers),
                waiting: AtomicUsize::new(0),
                max_waiting,
                max_wait,
                dummy,
            }),
        })
    }

    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for a new password.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let bytes = password.expose().as_bytes().to_vec();
        self.run(move |worker| worker.hash(&bytes)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account
    /// (or no password yet), which then never matches.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verification, HashError> {
        let real = stored.is_some();
        let phc = stored.unwrap_or(&self.inner.dummy).to_owned();
        let needs_rehash = real && self.is_outdated(&phc);
        let bytes = password.expose().as_bytes().to_vec();
        let matches = self.run(move |worker| worker.verify(&bytes, &phc)).await?;
        // Counted whether or not an account was found: one verification per attempt is what
        // keeps sign-in timing from telling who has an account.
        metrics::counter!("password_verifications_total").increment(1);
        Ok(Verification {
            matches: matches && real,
            needs_rehash: matches && needs_rehash,
        })
    }

    /// Whether `phc` was made with other parameters than the configured ones.
    fn is_outdated(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let want = self.inner.params;
        parsed.algorithm != ARGON2ID_IDENT
            || params.m_cost() != want.memory_kib
            || params.t_cost() != want.iterations
            || params.p_cost() != want.parallelism
    }

    /// Runs `work` on the blocking pool once a slot is free, or fails fast with `Busy`.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Worker) -> T + Send + 'static,
    {
        let inner = &self.inner;
        let queued = inner.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= inner.max_waiting + inner.running.available_permits() {
            inner.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(HashError::Busy);
        }
        let permit = tokio::time::timeout(inner.max_wait, inner.running.acquire()).await;
        inner.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(HashError::Busy),
        };
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |worker| {
            let _ = reply.send(work(worker));
        });
        let sent = inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job);
        if sent.is_err() {
            return Err(HashError::Internal(
                "the hashing threads have stopped".to_owned(),
            ));
        }
        let result = answer
            .await
            .map_err(|_| HashError::Internal("a hashing thread stopped mid-job".to_owned()));
        drop(permit);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::from_input(s).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(cheap(), 2, 8, Duration::from_secs(5)).unwrap();
        let phc = hasher
            .hash(&pw("marble kettle orbit saxophone"))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let ok = hasher
            .verify(&pw("marble kettle orbit saxophone"), Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify(&pw("marble kettle orbit saxophones"), Some(&phc))
            .await
            .unwrap();
        assert!(!wrong.matches);
        let nobody = hasher
            .verify(&pw("marble kettle orbit saxophone"), None)
            .await
            .unwrap();
        assert!(!nobody.matches, "the dummy hash never matches");
    }

    #[tokio::test]
    async fn hashes_made_with_old_parameters_ask_to_be_replaced() {
        let old = PasswordHasher::new(cheap(), 1, 8, Duration::from_secs(5)).unwrap();
        let phc = old
            .hash(&pw("marble kettle orbit saxophone"))
            .await
            .unwrap();
        let stronger = HashParams {
            iterations: 2,
            ..cheap()
        };
        let new = PasswordHasher::new(stronger, 1, 8, Duration::from_secs(5)).unwrap();
        let v = new
            .verify(&pw("marble kettle orbit saxophone"), Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        let wrong = new
            .verify(&pw("not the password at all"), Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            wrong,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_beyond_the_queue_is_told_busy_at_once() {
        let slow = HashParams {
            memory_kib: 19_456,
            iterations: 8,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(slow, 1, 1, Duration::from_secs(30)).unwrap();
        let attempts: Vec<_> = (0..6)
            .map(|_| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(&pw("marble kettle orbit saxophone")).await })
            })
            .collect();
        let mut busy = 0;
        let mut done = 0;
        for a in attempts {
            match a.await.unwrap() {
                Ok(_) => done += 1,
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            (1..=2).contains(&done),
            "one running and one queued at most: {done}"
        );
        assert_eq!(busy + done, 6);
    }

    #[test]
    fn parameters_below_argon2_minimums_are_refused() {
        let bad = HashParams {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        };
        assert!(matches!(
            PasswordHasher::new(bad, 1, 1, Duration::from_secs(1)),
            Err(HashError::Params(_))
        ));
    }
}
