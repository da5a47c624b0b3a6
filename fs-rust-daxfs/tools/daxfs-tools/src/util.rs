// SPDX-License-Identifier: GPL-2.0

//! Small helpers: sizes, UUIDs, randomness, time, argument splitting.

use std::io::Read;

/// Parses a size with an optional `k`, `m`, `g`, `t` suffix (powers of
/// 1024; a trailing `b`/`iB` is accepted).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, mul) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || s.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Formats a UUID.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{:02x}", b)).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// Random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b
}

/// A random (version 4) UUID.
pub fn random_uuid() -> [u8; 16] {
    let mut u = random_bytes::<16>();
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// Seconds and nanoseconds since the epoch.
pub fn now() -> (i64, u32) {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

/// Human-readable size.
pub fn human(bytes: u64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024 && v % 1024 == 0 && i < U.len() - 1 {
        v /= 1024;
        i += 1;
    }
    format!("{} {}", v, U[i])
}

/// Parsed options (name, value) and positional arguments.
pub type Parsed = (Vec<(String, Option<String>)>, Vec<String>);

/// Splits command-line arguments getopt style: bundled short flags
/// (`-fq`), options with values (`-L label`, `-Llabel`, `--label=x`,
/// `--label x`) and positional arguments. `with_value` lists the options
/// that take a value. Returns `(options, positionals)`.
pub fn getopt(args: &[String], with_value: &[&str]) -> Result<Parsed, String> {
    let mut opts = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            pos.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (format!("--{}", n), Some(v.to_string())),
                None => (format!("--{}", long), None),
            };
            if with_value.contains(&name.as_str()) && val.is_none() {
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("option {} needs a value", name))?;
                i += 1;
                opts.push((name, Some(v.clone())));
            } else {
                opts.push((name, val));
            }
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let name = format!("-{}", chars[j]);
                j += 1;
                if with_value.contains(&name.as_str()) {
                    let rest: String = chars[j..].iter().collect();
                    let v = if !rest.is_empty() {
                        rest
                    } else {
                        let v = args
                            .get(i)
                            .ok_or_else(|| format!("option {} needs a value", name))?;
                        i += 1;
                        v.clone()
                    };
                    opts.push((name, Some(v)));
                    break;
                }
                opts.push((name, None));
            }
        } else {
            pos.push(a.clone());
        }
    }
    Ok((opts, pos))
}
