//! Flink's `RAND(seed)`, `RAND_INTEGER(bound)` and `RAND_INTEGER(seed,
//! bound)`. Flink gives each call in a query its own `java.util.Random`,
//! made once per task with the seed, and draws one value per row, so a
//! seeded call yields the same sequence on every run. Eddy draws the same
//! sequence with Java's generator (a 48-bit linear congruential generator,
//! `java.util.Random`'s documented algorithm), one per call: the rewrite
//! gives each call an id ([`call_id`]), its last argument.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The hidden names the rewrite calls.
pub const RAND_SEEDED: &str = "__eddy_rand";
pub const RAND_INTEGER: &str = "__eddy_rand_integer";

static CALLS: AtomicI64 = AtomicI64::new(0);

/// A new id for one call of RAND or RAND_INTEGER in a query.
pub fn call_id() -> i64 {
    CALLS.fetch_add(1, Ordering::Relaxed)
}

/// `java.util.Random`.
struct JavaRandom {
    seed: i64,
}

const MULTIPLIER: i64 = 0x5DEECE66D;
const MASK: i64 = (1 << 48) - 1;

impl JavaRandom {
    fn new(seed: i64) -> Self {
        Self {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    /// Seeded from the clock, as `new Random()`.
    fn unseeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        Self::new(nanos ^ 0x0123_4567_89AB_CDEF)
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    fn next_double(&mut self) -> f64 {
        let high = (self.next(26) as i64) << 27;
        let low = self.next(27) as i64;
        (high + low) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `nextInt(bound)`, `bound > 0`.
    fn next_int(&mut self, bound: i32) -> i32 {
        let m = bound - 1;
        let mut r = self.next(31);
        if bound & m == 0 {
            return ((bound as i64 * r as i64) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

/// `__eddy_rand(seed, id)` (DOUBLE) or `__eddy_rand_integer(seed, bound, id)`
/// (INT); a NULL seed seeds from the clock.
#[derive(Debug)]
pub struct SeededRandom {
    name: &'static str,
    signature: Signature,
    generators: Mutex<HashMap<i64, JavaRandomCell>>,
}

struct JavaRandomCell(Arc<Mutex<JavaRandom>>);

impl std::fmt::Debug for JavaRandomCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JavaRandom")
    }
}

impl PartialEq for SeededRandom {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for SeededRandom {}
impl std::hash::Hash for SeededRandom {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl SeededRandom {
    pub fn double() -> Self {
        Self {
            name: RAND_SEEDED,
            signature: Signature::any(2, Volatility::Volatile),
            generators: Mutex::default(),
        }
    }

    pub fn integer() -> Self {
        Self {
            name: RAND_INTEGER,
            signature: Signature::any(3, Volatility::Volatile),
            generators: Mutex::default(),
        }
    }

    fn generator(&self, id: i64, seed: Option<i32>) -> Arc<Mutex<JavaRandom>> {
        let mut all = self.generators.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(id)
            .or_insert_with(|| {
                JavaRandomCell(Arc::new(Mutex::new(match seed {
                    Some(s) => JavaRandom::new(s as i64),
                    None => JavaRandom::unseeded(),
                })))
            })
            .0
            .clone()
    }
}

fn constant_int(v: &ColumnarValue, what: &str) -> Result<Option<i64>> {
    match v {
        ColumnarValue::Scalar(s) if s.is_null() => Ok(None),
        ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(v) => Ok(v),
            _ => exec_err!("{what} must be a constant INT"),
        },
        ColumnarValue::Array(_) => exec_err!("{what} must be a constant INT, not a column"),
    }
}

impl ScalarUDFImpl for SeededRandom {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(if self.name == RAND_SEEDED {
            DataType::Float64
        } else {
            DataType::Int32
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let id = constant_int(args.args.last().expect("checked arity"), "the call id")?
            .unwrap_or_default();
        let seed = constant_int(&args.args[0], "the seed of RAND")?.map(|s| s as i32);
        let generator = self.generator(id, seed);
        let mut random = generator.lock().unwrap_or_else(|e| e.into_inner());
        if self.name == RAND_SEEDED {
            let values = (0..rows).map(|_| random.next_double()).collect::<Vec<_>>();
            return Ok(ColumnarValue::Array(Arc::new(Float64Array::from(values))));
        }
        let bound = args.args[1].to_array(rows)?;
        let bound: ArrayRef = cast(&bound, &DataType::Int32)?;
        let bound = bound.as_primitive::<Int32Type>();
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            if bound.is_null(i) {
                out.push(None);
                continue;
            }
            let b = bound.value(i);
            if b <= 0 {
                return exec_err!("RAND_INTEGER: the bound must be positive, got {b}");
            }
            out.push(Some(random.next_int(b)));
        }
        Ok(ColumnarValue::Array(Arc::new(Int32Array::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    #[test]
    fn draws_java_util_randoms_sequence() {
        // new java.util.Random(42): nextInt(10) x 5 and nextDouble, as
        // Java 17 prints them.
        let mut r = JavaRandom::new(42);
        let ints = (0..5).map(|_| r.next_int(10)).collect::<Vec<_>>();
        assert_eq!(ints, [0, 3, 8, 4, 0]);
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_double(), 0.7275636800328681);
        let mut r = JavaRandom::new(-7);
        assert_eq!((r.next_int(1000), r.next_int(16)), (662, 14));
        assert_eq!(r.next_double(), 0.6731811902798038);
    }
}
