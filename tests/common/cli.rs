//! Running the real `gatehouse` binary as an operator would.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `gatehouse ARGS` run in `dir` with only the `GATEHOUSE_*` variables given.
pub fn gatehouse(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("GATEHOUSE_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    gatehouse(dir, args, env).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the command failed with `code` and said exactly one line mentioning `needle`.
pub fn assert_one_line_failure(o: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one readable line, got: {stderr}"
    );
    assert!(stderr.starts_with("gatehouse: "), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

/// `gatehouse ARGS` with `input` on standard input.
pub fn run_with_input(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut child = gatehouse(dir, args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Starts the server (`gatehouse` with `args`, no subcommand) and returns the process and
/// the URL it says it listens on; its standard error is discarded.
pub fn serve(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    extra_env: &[(&str, &str)],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = gatehouse(dir, args, env)
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first_line:?}"))
        .trim_end_matches('/')
        .to_owned();
    (child, url)
}
