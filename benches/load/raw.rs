//! The raw costs that bound the operations: Argon2id verifications and token signatures per
//! second on every core, with the server's own parameters, hasher and keys, and no HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::auth::password::{HashParams, Password, PasswordHasher};
use gatehouse::crypto::{KeyFolder, SigningAlg, sign_jwt};

/// Verifications per second with every core busy, through the same hasher the server uses.
pub async fn argon2_per_second(cores: usize, password: &str, run_for: Duration) -> f64 {
    let hasher =
        PasswordHasher::new(HashParams::default(), cores, 1024, Duration::from_secs(60)).unwrap();
    let phc = Arc::new(
        hasher
            .hash(&Password::from_input(password).unwrap())
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..cores * 2)
        .map(|_| {
            let (hasher, phc) = (hasher.clone(), phc.clone());
            let password = Password::from_input(password).unwrap();
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < run_for {
                    assert!(hasher.verify(&password, Some(&phc)).await.unwrap().matches);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Access-token signatures per second with the server's `alg` key on every core.
pub fn signatures_per_second(
    keys_dir: &std::path::Path,
    alg: SigningAlg,
    cores: usize,
    run_for: Duration,
) -> f64 {
    let key = Arc::new(
        KeyFolder::new(keys_dir)
            .load()
            .unwrap()
            .into_iter()
            .find(|(meta, _)| meta.alg == alg)
            .unwrap()
            .1,
    );
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:8080", "sub": "machine", "aud": "machine", "client_id": "machine",
        "exp": 1_800_000_600_i64, "iat": 1_800_000_000_i64,
        "jti": "0123456789abcdef0123456789abcdef", "scope": "",
    });
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (key, claims) = (key.clone(), claims.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while started.elapsed() < run_for {
                    sign_jwt("at+jwt", &claims, &key).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}
