//! Joins must not depend on parallelism: every join kind, over random keys
//! with NULLs (append-only and updating inputs), runs at parallelism 1 and
//! at a random higher one, and both must end with the same rows. A NOT IN
//! whose NULL reached only one subtask once passed every fixed case and
//! failed here.
//!
//! `cargo test --workspace --test random_joins`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/crash.rs"]
mod crash;

use std::path::Path;
use std::process::Command;

use changelog::{diff, fold};
use crash::Rng;

/// `rows` CSV lines `k,v,ts`: keys from 0..keys, one in `nulls` NULL (none
/// for 0); times rise by 0-2 s, so the interval join has matches and
/// expiries.
fn table(rng: &mut Rng, rows: usize, keys: u64, nulls: u64) -> String {
    let mut out = String::new();
    let mut ts = 0;
    for i in 0..rows {
        let k = if nulls > 0 && rng.below(nulls) == 0 {
            "null".to_string()
        } else {
            rng.below(keys).to_string()
        };
        ts += rng.below(3);
        out += &format!(
            "{k},{},1970-01-01 00:{:02}:{:02}\n",
            i % 50,
            ts / 60,
            ts % 60
        );
    }
    out
}

/// The queries: one per join kind, `l` and `r` being the two tables.
const QUERIES: &[&str] = &[
    "SELECT l.k, l.v, r.v FROM l JOIN r ON l.k = r.k",
    "SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.v < r.v",
    "SELECT l.v, r.k, r.v FROM l RIGHT JOIN r ON l.k = r.k",
    "SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r ON l.k = r.k AND l.v <> r.v",
    "SELECT l.k, l.v, r.v FROM l JOIN r ON l.k IS NOT DISTINCT FROM r.k",
    "SELECT k, v FROM l WHERE k IN (SELECT k FROM r WHERE v > 10)",
    "SELECT k, v FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.v > l.v)",
    "SELECT k, v FROM l WHERE k NOT IN (SELECT k FROM r)",
    "SELECT k, v FROM l WHERE k NOT IN (SELECT k FROM r WHERE k IS NOT NULL)",
    "SELECT k, v FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k)",
    "SELECT k, c FROM (SELECT k, COUNT(*) AS c FROM l GROUP BY k) WHERE k NOT IN (SELECT k FROM r GROUP BY k HAVING COUNT(*) = 1)",
    "SELECT a.k, a.c, b.c FROM (SELECT k, COUNT(*) AS c FROM l GROUP BY k) a FULL JOIN (SELECT k, MAX(v) AS c FROM r GROUP BY k) b ON a.k = b.k",
    "SELECT l.k, l.v, r.v FROM l, r WHERE l.k = r.k AND l.ts BETWEEN r.ts - INTERVAL '2' SECOND AND r.ts + INTERVAL '1' SECOND",
    "SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.ts BETWEEN r.ts - INTERVAL '2' SECOND AND r.ts",
];

fn script(dir: &Path, query: &str, parallelism: usize) -> String {
    let table = |name: &str| {
        format!(
            "CREATE TABLE {name} (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'csv.null-literal' = 'null');\n",
            dir.join(format!("{name}.csv")).display()
        )
    };
    format!(
        "SET 'parallelism.default' = '{parallelism}';\n{}{}{query};\n",
        table("l"),
        table("r")
    )
}

fn run(dir: &Path, query: &str, parallelism: usize) -> String {
    let file = dir.join(format!("job-{parallelism}.sql"));
    std::fs::write(&file, script(dir, query, parallelism)).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("-f")
        .arg(&file)
        .output()
        .expect("eddy runs");
    assert!(
        out.status.success(),
        "eddy failed at parallelism {parallelism} on {query}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_join_kind_gives_the_same_rows_at_every_parallelism() {
    let dir = std::env::temp_dir().join(format!("eddy-random-joins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut failures = vec![];
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 0xdead_beef, 0x1234_5678_9abc, 42] {
        let mut rng = Rng::seeded(seed);
        // Few keys make many matches per key; more keys spread them. The
        // right side draws from half the left's keys, so anti joins keep
        // rows, and holds a NULL in some seeds only.
        let keys = 6 + rng.below(40);
        let right_nulls = [0, 8, 100][rng.below(3) as usize];
        std::fs::write(dir.join("l.csv"), table(&mut rng, 300, keys, 8)).expect("write l");
        std::fs::write(
            dir.join("r.csv"),
            table(&mut rng, 200, keys / 2, right_nulls),
        )
        .expect("write r");
        for query in QUERIES {
            let parallelism = 2 + rng.below(3) as usize;
            let want = fold(&run(&dir, query, 1)).expect("fold");
            let got = fold(&run(&dir, query, parallelism)).expect("fold");
            if want != got {
                failures.push(format!(
                    "seed {seed:#x}, parallelism {parallelism}: {query}\n{}",
                    diff(&want, &got)
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
