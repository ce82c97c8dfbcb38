//! Reproducible sampling: Bernoulli without replacement, Poisson copies with replacement, seeded per partition.

use super::{HostOp, HostOpError, check_output, validate};
use crate::records::Batch;

/// Largest Poisson mean drawn at once by Knuth's method (`exp(-mean)` stays far from underflow).
const POISSON_CHUNK: f64 = 30.0;

/// Keeps each record with probability `fraction` (without replacement), or
/// repeats it a Poisson(`fraction`)-distributed number of times (with replacement).
///
/// The random stream is xoshiro256++ seeded through splitmix64 from
/// `(seed, partition)`, so a partition samples the same records in every
/// attempt and on every executor. The driver validates `fraction`; here a
/// negative, NaN or infinite fraction keeps nothing, and a fraction of 1 or
/// more without replacement keeps everything.
pub(crate) struct Sampler {
    with_replacement: bool,
    fraction: f64,
    rng: Xoshiro256,
    /// `exp(-POISSON_CHUNK)` and `exp(-(fraction mod POISSON_CHUNK))`.
    exp_chunk: f64,
    exp_rest: f64,
    /// `fraction` = `chunks * POISSON_CHUNK + rest`.
    chunks: u64,
}

impl Sampler {
    /// A sampler for map partition `partition`.
    pub(crate) fn new(with_replacement: bool, fraction: f64, seed: u64, partition: u32) -> Self {
        let fraction = if fraction.is_finite() && fraction > 0.0 { fraction } else { 0.0 };
        let chunks = (fraction / POISSON_CHUNK).floor();
        let rest = fraction - chunks * POISSON_CHUNK;
        Sampler {
            with_replacement,
            fraction,
            rng: Xoshiro256::seeded(seed, partition),
            exp_chunk: (-POISSON_CHUNK).exp(),
            exp_rest: (-rest).exp(),
            chunks: chunks as u64,
        }
    }

    /// How many copies of the next record to emit.
    #[inline]
    fn copies(&mut self) -> u64 {
        if !self.with_replacement {
            return u64::from(self.fraction >= 1.0 || self.rng.next_f64() < self.fraction);
        }
        if self.fraction == 0.0 {
            return 0;
        }
        // A sum of independent Poisson draws is Poisson with the summed mean.
        let mut k = 0;
        for _ in 0..self.chunks {
            k += self.knuth(self.exp_chunk);
        }
        k + self.knuth(self.exp_rest)
    }

    /// Knuth's Poisson draw for a mean `m`, given `exp(-m)`.
    #[inline]
    fn knuth(&mut self, exp_neg_mean: f64) -> u64 {
        let mut k = 0;
        let mut p = self.rng.next_f64();
        while p > exp_neg_mean {
            k += 1;
            p *= self.rng.next_f64();
        }
        k
    }
}

impl HostOp for Sampler {
    fn push(&mut self, batch: &Batch, out: &mut Batch) -> Result<(), HostOpError> {
        validate("sample", batch)?;
        for record in batch.iter() {
            for _ in 0..self.copies() {
                out.push(record);
            }
        }
        check_output("sample", out)
    }

    fn finish(&mut self, _out: &mut Batch, _max_bytes: usize) -> Result<bool, HostOpError> {
        Ok(true)
    }
}

/// xoshiro256++ (Blackman and Vigna), seeded by splitmix64.
struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// The stream of `(seed, partition)`.
    fn seeded(seed: u64, partition: u32) -> Self {
        let mut state = seed ^ (u64::from(partition) + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Xoshiro256 { s: [next(), next(), next(), next()] }
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`, 53 bits.
    #[inline]
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
