// SPDX-License-Identifier: GPL-2.0

//! `fuzzimg.daxfs`: damaged daxfs images for fuzzing mount, the kernel and
//! fsck, each reproducible from a seed and an index
//! (`daxfs_tools::fuzz`).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::exit;

use daxfs_tools::dev::blockdev_size;
use daxfs_tools::format::BLOCK_SIZE;
use daxfs_tools::fsck::{fsck, Mode, Options};
use daxfs_tools::fuzz::{generate, generate_into, Base, DEFAULT_SEED};
use daxfs_tools::util::getopt;

const USAGE: &str = "\
Usage: fuzzimg.daxfs [--seed S] --index I [--describe] OUTPUT
       fuzzimg.daxfs [--seed S] [--index FIRST] --count N [--describe] OUTDIR
       fuzzimg.daxfs [--seed S] [--index FIRST] [--count N] --describe
       fuzzimg.daxfs [--seed S] --serve OUTPUT
       fuzzimg.daxfs --base OUTPUT
  --seed S      seed of the series (default 20261203)
  --index I     the image of the series (with --count: the first one, default 0)
  --count N     N images, written to OUTDIR/fuzz-S-I.img
  --describe    print what each image changed (one line per image)
  --base        the populated image without any change
  --serve       read requests from stdin, one per line, and answer each
                with one line (one process for a whole series: the base
                image is built once, and no process is started per check):
                  I        write image I to OUTPUT; answer its description
                  fsck -n  check OUTPUT as `fsck.daxfs -n OUTPUT` does (the
                  fsck -y  same library code), or repair it as -y does;
                           answer `fsck EXIT LINES: LAST` (fsck(8) exit
                           code, output lines, the last one). A panic ends
                           the process with exit 101, as fsck.daxfs's would.
OUTPUT may be a regular file (created or truncated to the image's size) or a
block device at least as large as the image (only the image's bytes are
written, from byte 0).
";

fn fail(msg: String) -> ! {
    eprintln!("fuzzimg.daxfs: {}", msg);
    exit(1);
}

/// Writes `img` to `path`: a block device from byte 0 (it must be large
/// enough; nothing else of it is touched), else a regular file of exactly
/// the image's size. `buf` is the block-aligned copy direct I/O needs,
/// kept from one image to the next.
fn write_image(path: &Path, img: &[u8], buf: &mut Vec<u8>) -> Result<(), String> {
    let d = path.display();
    let is_bdev = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device());
    if is_bdev {
        // Direct I/O: one copy into the device instead of two through the
        // page cache (what makes a series fast on an emulated NVDIMM).
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path);
        let (f, direct) = match direct {
            Ok(f) => (f, true),
            Err(_) => (
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| format!("{}: {}", d, e))?,
                false,
            ),
        };
        let size = blockdev_size(&f).map_err(|e| format!("{}: {}", d, e))?;
        if size < img.len() as u64 {
            return Err(format!(
                "{}: device of {} bytes, the image has {}",
                d,
                size,
                img.len()
            ));
        }
        let data = if direct {
            // O_DIRECT wants a block-aligned buffer.
            buf.resize(img.len() + BLOCK_SIZE, 0);
            let a = buf.as_ptr().align_offset(BLOCK_SIZE);
            let d = &mut buf[a..a + img.len()];
            d.copy_from_slice(img);
            &*d
        } else {
            img
        };
        f.write_all_at(data, 0)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{}: {}", d, e))
    } else {
        let mut f = File::create(path).map_err(|e| format!("{}: {}", d, e))?;
        f.write_all(img).map_err(|e| format!("{}: {}", d, e))
    }
}

/// `--serve`'s answer to `fsck -n`/`fsck -y`: runs the checker of
/// `fsck.daxfs` on `out` (it opens and closes the device, as a new
/// `fsck.daxfs` process would) and sums its report up in one line.
fn serve_fsck(out: &Path, mode: Mode) -> String {
    let r = fsck(
        out,
        Options {
            mode,
            verbose: false,
        },
    );
    let last = r.lines.last().map(String::as_str).unwrap_or("");
    format!(
        "fsck {} {}: {}",
        r.exit,
        r.lines.len(),
        last.replace('\n', " ")
    )
}

/// `--serve`: for each index read from stdin, writes the image to `out`
/// and prints its description, or `error: ...`; for each `fsck -n` or
/// `fsck -y`, checks `out` and prints the summary of [`serve_fsck`].
fn serve_images(base: &Base, seed: u64, out: &Path) {
    let stdout = std::io::stdout();
    let (mut spare, mut buf) = (Vec::new(), Vec::new());
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            break;
        };
        let reply = match line.trim() {
            "fsck -n" => serve_fsck(out, Mode::No),
            "fsck -y" => serve_fsck(out, Mode::Yes),
            l => match l.parse::<u64>() {
                Ok(i) => {
                    let g = generate_into(base, seed, i, std::mem::take(&mut spare));
                    let r = match write_image(out, &g.img, &mut buf) {
                        Ok(()) => g.describe(),
                        Err(e) => format!("error: {}", e),
                    };
                    spare = g.img;
                    r
                }
                Err(_) => format!("error: not an index or fsck request: {:?}", line),
            },
        };
        let mut o = stdout.lock();
        if writeln!(o, "{}", reply).and_then(|()| o.flush()).is_err() {
            break;
        }
    }
}

fn number(v: &Option<String>, what: &str) -> u64 {
    match v.as_deref().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None => fail(format!("invalid {}\n{}", what, USAGE)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, pos) = match getopt(&args, &["--seed", "--index", "--count"]) {
        Ok(x) => x,
        Err(e) => fail(format!("{}\n{}", e, USAGE)),
    };
    let (mut seed, mut index, mut count) = (DEFAULT_SEED, None, None);
    let (mut describe, mut base_only, mut serve) = (false, false, false);
    for (k, v) in &opts {
        match k.as_str() {
            "--seed" => seed = number(v, "seed"),
            "--index" => index = Some(number(v, "index")),
            "--count" => count = Some(number(v, "count")),
            "--describe" => describe = true,
            "--base" => base_only = true,
            "--serve" => serve = true,
            "-h" | "--help" => {
                print!("{}", USAGE);
                exit(0);
            }
            _ => fail(format!("unknown option {}\n{}", k, USAGE)),
        }
    }
    let out = match pos.as_slice() {
        [] => None,
        [p] => Some(PathBuf::from(p)),
        _ => fail(format!("one output only\n{}", USAGE)),
    };
    let base = Base::build().unwrap_or_else(|e| fail(e));
    if base_only {
        let Some(out) = out else {
            fail(format!("--base needs an OUTPUT\n{}", USAGE));
        };
        write_image(&out, &base.img, &mut Vec::new()).unwrap_or_else(|e| fail(e));
        return;
    }
    if serve {
        let Some(out) = out else {
            fail(format!("--serve needs an OUTPUT\n{}", USAGE));
        };
        serve_images(&base, seed, &out);
        return;
    }
    if out.is_none() && !describe {
        fail(format!("no OUTPUT\n{}", USAGE));
    }
    if count.is_none() && index.is_none() && out.is_some() {
        fail(format!("give --index or --count\n{}", USAGE));
    }
    let first = index.unwrap_or(0);
    let n = count.unwrap_or(1);
    if count.is_some() {
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| fail(format!("{}: {}", dir.display(), e)));
        }
    }
    let mut buf = Vec::new();
    for i in first..first.saturating_add(n) {
        let g = generate(&base, seed, i);
        if describe {
            println!("{}", g.describe());
        }
        match (&out, count) {
            (Some(dir), Some(_)) => {
                let p = dir.join(format!("fuzz-{}-{}.img", seed, i));
                write_image(&p, &g.img, &mut buf).unwrap_or_else(|e| fail(e));
            }
            (Some(p), None) => write_image(p, &g.img, &mut buf).unwrap_or_else(|e| fail(e)),
            (None, _) => {}
        }
    }
}
