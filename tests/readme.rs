//! The README's examples, run as printed: the console session of "Trying it" (names
//! aside: who is on call depends on the date, as the README says), the piped script, the
//! monitoring `curl`, and the `check-config` output of "Configuration".

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use example::BIN;
use sevbot::domain::{Role, SevType};

mod example;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn readme() -> String {
    std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap()
}

/// The first fenced block (with `lang`, or any) after `heading`.
fn block_after(heading: &str, lang: &str) -> String {
    let text = readme();
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let fence = format!("```{lang}\n");
    let start = from + text[from..].find(&fence).unwrap() + fence.len();
    let end = start + text[start..].find("```").unwrap();
    text[start..end].to_string()
}

fn example_config() -> String {
    example::config().display().to_string()
}

fn sevbot(dir: &tempfile::TempDir) -> Command {
    example::sevbot(dir.path())
}

fn piped(mut cmd: Command, input: &str) -> String {
    let mut child = cmd
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
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// "IMOC @x, TLOC @y, BMOC @z" as the example config has them at this moment.
fn on_call_now() -> String {
    let checked = sevbot::config::check(Some(Path::new(&example_config())));
    let cfg = checked.config.unwrap();
    let now = chrono::Utc::now();
    let who = |role| {
        cfg.on_call(role, SevType::Availability, now)
            .map(|(_, p)| p.to_string())
            .unwrap()
    };
    format!(
        "IMOC @{}, TLOC @{}, BMOC @{}",
        who(Role::Imoc),
        who(Role::Tloc),
        who(Role::Bmoc)
    )
}

/// Replaces the README's role holders with `holders`.
fn with_holders(line: &str, holders: &str) -> String {
    match line.find("IMOC @") {
        Some(i) => {
            let end = line[i..]
                .find("BMOC @")
                .map(|j| i + j + "BMOC @".len())
                .unwrap();
            let name_end = end
                + line[end..]
                    .find(|c: char| !c.is_alphanumeric())
                    .unwrap_or(line.len() - end);
            format!("{}{holders}{}", &line[..i], &line[name_end..])
        }
        None => line.to_string(),
    }
}

#[test]
fn trying_it_runs_as_printed() {
    let block = block_after("## Trying it", "");
    let mut input = String::new();
    let mut expected = vec![];
    for line in block.lines() {
        // `alice@#general> …` is typed; `…` alone stands for lines left out.
        match line.split_once("> ") {
            Some((prompt, typed)) if prompt.contains("@#") && !prompt.contains(' ') => {
                input.push_str(typed);
                input.push('\n');
                expected.push(line.to_string());
            }
            _ if line.trim() == "…" => {}
            _ => expected.push(line.to_string()),
        }
    }
    assert!(input.contains("/sev declare"), "{block}");
    let before = on_call_now();
    let dir = tempfile::tempdir().unwrap();
    let out = piped(sevbot(&dir), &input);
    let after = on_call_now();
    let lines: Vec<&str> = out.lines().collect();
    // Each expected line appears after the prompt it follows (the channels are delivered
    // on lanes of their own, so lines of one step may come in any order): its pieces
    // around `…` in one output line, the first piece at its start.
    let matches = |l: &str, e: &str| {
        let pieces: Vec<&str> = e.split('…').filter(|p| !p.is_empty()).collect();
        let mut rest = l;
        for (k, piece) in pieces.iter().enumerate() {
            match rest.find(piece) {
                Some(i) if i == 0 || k > 0 => rest = &rest[i + piece.len()..],
                _ => return false,
            }
        }
        true
    };
    let mut step_start = 0;
    for e in &expected {
        let found = [&before, &after].iter().find_map(|holders| {
            let e = with_holders(e, holders);
            lines[step_start..]
                .iter()
                .position(|l| matches(l, &e))
                .map(|i| step_start + i)
        });
        let Some(i) = found else {
            panic!("README line not in the output after its step:\n{e}\n\noutput:\n{out}");
        };
        if input
            .lines()
            .any(|typed| e.ends_with(&format!("> {typed}")))
        {
            step_start = i + 1;
        }
    }
}

#[test]
fn the_piped_script_runs() {
    let block = block_after("Piped input runs as a script", "sh");
    let script = block
        .split("printf '")
        .nth(1)
        .and_then(|s| s.split("' |").next())
        .unwrap()
        .replace("\\n", "\n");
    let dir = tempfile::tempdir().unwrap();
    let out = piped(sevbot(&dir), &script);
    assert!(
        out.contains("SEV-1 declared: SEV2 durability \"Backups lagging\""),
        "{out}"
    );
    assert!(out.contains("SEV-1"), "the list shows it: {out}");
}

#[test]
fn the_monitoring_curl_is_accepted() {
    let block = block_after("Three ways in", "sh");
    let start = block.find("end=$(").unwrap();
    let end = start + block[start..].find("/api/v1/availability").unwrap();
    let snippet = &block[start..end];
    let dir = tempfile::tempdir().unwrap();
    let mut child = sevbot(&dir)
        .env("MONITORING_TOKEN", "readme-token")
        .env("RUST_LOG", "sevbot=info")
        .args(["run", "--console", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("addr=").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("sevbot logs its address");
    let snippet = snippet.replace(
        "http://127.0.0.1:8080",
        &format!("-s -o /dev/null -w %{{http_code}} http://{addr}"),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{snippet}/api/v1/availability"))
        .env("MONITORING_TOKEN", "readme-token")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "202",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample output in "Configuration" is what `check-config` prints for those mistakes.
#[test]
fn the_check_config_sample_is_true() {
    let block = block_after("`sevbot check-config` reports every problem in one run", "");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    example::edited_copy(
        &config,
        &[
            (
                "email = \"alice@example.com\"",
                "emial = \"alice@example.com\"",
            ),
            (
                "members = [\"alice\", \"dave\", \"erin\"]",
                "members = [\"alice\", \"dav\", \"erin\"]",
            ),
            (
                "platform = \"console\"\nchannel = \"sev-feed\"\nmax_level",
                "platform = \"slak\"\nchannel = \"sev-feed\"\nmax_level",
            ),
            ("cron = \"0 9,17 * * 1-5\"", "cron = \"0 9 * * mon-fry\""),
            ("confirm_minutes = 3 ", "confirm_minutes = 0 "),
        ],
    );
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("SEVBOT_LOG__FILTERR", "debug")
        .env_remove("RUST_LOG")
        .args(["--config", "config/sevbot.toml", "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = block.lines().map(str::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}
