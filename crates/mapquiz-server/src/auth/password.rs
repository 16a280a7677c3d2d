//! Password hashing with argon2id on a few dedicated threads, one per core, sharing reusable memory areas.
//!
//! Each hash needs `memory_kib` of RAM (19 MiB by default). Allocating and freeing that per hash, over many
//! threads, leaves it in the allocator's per-thread arenas (measured: 446 MB resident after ten seconds of
//! sign-ins). Fixed workers that reuse a pool of block buffers bound hashing to `cores × memory_kib`, and
//! queue the rest. Holding those buffers forever cost an idle server 19 MiB per worker that ever hashed
//! (the start-up dummy hash alone: idle RSS 11 MB → 38 MB), so the pool is emptied after [`QUIET`] without
//! a hash: a burst keeps reusing its buffers, a quiet server gives them back.

use crate::config::Argon2Params;
use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, Version};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Hashes waiting for a worker, at most; further callers wait to enqueue.
const QUEUE: usize = 1024;
/// Largest memory cost a stored hash may ask for (KiB): a corrupt row must not make a worker take 4 GiB.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// Blocks reserved at least per buffer: just over glibc's largest mmap threshold (see [`compute`]).
const MAPPED_BLOCKS: usize = (32 << 20) / std::mem::size_of::<Block>() + 1;
/// How long the workers may go without a hash before the pooled buffers are freed.
const QUIET: Duration = Duration::from_secs(5);

/// Block buffers not in use, at most one per worker; a worker takes one for a hash and puts it back.
#[derive(Default)]
struct Pool(Mutex<Vec<Vec<Block>>>);

impl Pool {
    fn take(&self) -> Vec<Block> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default()
    }

    fn put(&self, buffer: Vec<Block>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(buffer);
    }

    /// Frees every idle buffer (each is one allocation of `memory_kib`, returned to the system whole).
    fn release(&self) {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// One worker's tools: the configured hasher and the shared buffers.
struct Worker {
    argon: Argon2<'static>,
    pool: Arc<Pool>,
}

impl Worker {
    /// `f` with a block buffer from the pool, put back afterwards.
    fn with_memory<T>(&self, f: impl FnOnce(&mut Vec<Block>) -> T) -> T {
        let mut memory = self.pool.take();
        let out = f(&mut memory);
        self.pool.put(memory);
        out
    }
}

type Job = Box<dyn FnOnce(&Worker) + Send>;

/// Hashes and verifies passwords.
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    /// Places in the queue: a job holds one until it has run.
    slots: Arc<Semaphore>,
    /// A hash of a random password with the same cost: verified when the account has no password, so that
    /// unknown emails take as long as wrong passwords.
    dummy: String,
}

impl Hasher {
    /// Starts the workers and computes the dummy hash (one hash at start-up).
    pub async fn new(params: Argon2Params) -> anyhow::Result<Self> {
        Ok(Self::start(params, QUIET).await?.0)
    }

    /// [`Hasher::new`] with the quiet period given, and the pool the workers share.
    async fn start(params: Argon2Params, quiet: Duration) -> anyhow::Result<(Self, Arc<Pool>)> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let pool = Arc::new(Pool::default());
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        for i in 0..workers {
            let worker = Worker { argon: argon.clone(), pool: pool.clone() };
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    // Ends when every sender is gone (the server stopped).
                    while let Some(job) = next_job(&queue, &worker.pool, quiet) {
                        job(&worker);
                    }
                })
                .context("cannot start a password-hashing thread")?;
        }
        let mut hasher = Hasher { jobs, slots: Arc::new(Semaphore::new(QUEUE)), dummy: String::new() };
        hasher.dummy = hasher.hash(&crate::auth::crypto::random_alphanumeric(24)).await?;
        Ok((hasher, pool))
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.run(move |w| {
            let salt = SaltString::encode_b64(&crate::auth::crypto::random_bytes::<16>())
                .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
            let output =
                w.with_memory(|memory| compute(&w.argon, memory, &password, &salt, Params::DEFAULT_OUTPUT_LEN))?;
            let phc = PasswordHash {
                algorithm: ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(w.argon.params()).map_err(|e| anyhow::anyhow!("params: {e}"))?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(phc.to_string())
        })
        .await
    }

    /// Whether `password` matches `phc`; with `None` (no such account, or no password on it) a dummy hash
    /// is verified and the answer is `false`, in about the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> anyhow::Result<bool> {
        let password = password.to_owned();
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy).to_owned();
        self.run(move |w| {
            let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            anyhow::ensure!(parsed.algorithm == ARGON2ID_IDENT, "stored hash is not argon2id");
            // The stored hash carries its own parameters, so older costs keep verifying after a change.
            let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("stored hash parameters: {e}"))?;
            anyhow::ensure!(params.m_cost() <= MAX_MEMORY_KIB, "stored hash asks for too much memory");
            let version = Version::try_from(parsed.version.unwrap_or(0x13))
                .map_err(|e| anyhow::anyhow!("stored hash version: {e}"))?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                anyhow::bail!("stored hash without salt or output");
            };
            let argon = Argon2::new(Algorithm::Argon2id, version, params);
            let salt = SaltString::from_b64(salt.as_str()).map_err(|e| anyhow::anyhow!("stored salt: {e}"))?;
            let actual = w.with_memory(|memory| compute(&argon, memory, &password, &salt, expected.len()))?;
            // `Output` compares in constant time.
            Ok(actual == expected && known)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Worker) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let slot: OwnedSemaphorePermit =
            self.slots.clone().acquire_owned().await.map_err(|_| anyhow::anyhow!("password hashing stopped"))?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |worker| {
            let _ = done.send(work(worker));
            drop(slot);
        });
        self.jobs.send(job).map_err(|_| anyhow::anyhow!("password hashing stopped"))?;
        result.await.context("a password-hashing thread died")?
    }
}

/// The raw argon2 output of `password` and `salt`, `len` bytes, in the worker's reusable memory.
fn compute(
    argon: &Argon2<'_>,
    memory: &mut Vec<Block>,
    password: &str,
    salt: &SaltString,
    len: usize,
) -> anyhow::Result<Output> {
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        // glibc serves a request below its mmap threshold from a heap arena, which keeps the pages after the
        // free, and raises that threshold (up to 32 MiB) each time an mmapped chunk is freed: after the first
        // release, every later 19 MiB buffer stayed resident for good (measured: 61 MB ten seconds after a
        // sign-in burst). Reserving past 32 MiB keeps each buffer a mapping of its own, unmapped on free; the
        // pages past `blocks` are never touched, so they cost address space, not memory.
        let mut fresh = Vec::with_capacity(blocks.max(MAPPED_BLOCKS));
        fresh.resize(blocks, Block::default());
        *memory = fresh;
    }
    let mut salt_buf = [0u8; 64];
    let salt = salt.as_salt().decode_b64(&mut salt_buf).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Output::init_with(len, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// The next job, or `None` once the queue is closed. One idle worker waits on the queue while the others
/// wait for the lock, so each job goes to exactly one worker; the waiting one frees the pooled buffers
/// whenever `quiet` passes without a job.
fn next_job(queue: &Mutex<mpsc::Receiver<Job>>, pool: &Pool, quiet: Duration) -> Option<Job> {
    let guard = queue.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match guard.recv_timeout(quiet) {
            Ok(job) => return Some(job),
            Err(RecvTimeoutError::Timeout) => pool.release(),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let h = Hasher::new(Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }).await.unwrap();
        let phc = h.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(h.verify("correct horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("wrong horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse", None).await.unwrap());
        assert_ne!(phc, h.hash("correct horse").await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::PasswordHasher as _;
        use argon2::password_hash::PasswordVerifier as _;
        let h = Hasher::new(Argon2Params { memory_kib: 256, iterations: 2, parallelism: 1 }).await.unwrap();
        // Ours verifies with the reference implementation…
        let ours = h.hash("pässword").await.unwrap();
        let argon = Argon2::default();
        assert!(argon.verify_password("pässword".as_bytes(), &PasswordHash::new(&ours).unwrap()).is_ok());
        // …and a hash made elsewhere, with other costs, verifies here.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = Params::new(512, 3, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password("pässword".as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(h.verify("pässword", Some(&theirs)).await.unwrap());
        assert!(!h.verify("password", Some(&theirs)).await.unwrap());
        assert!(h.verify("x", Some("$argon2i$v=19$m=512,t=3,p=1$c2FsdHNhbHQ$aGFzaA")).await.is_err());
    }

    fn pooled(pool: &Pool) -> usize {
        pool.0.lock().unwrap().len()
    }

    #[tokio::test]
    async fn buffers_are_reused_in_a_burst_and_freed_when_quiet() {
        let params = Argon2Params { memory_kib: 256, iterations: 1, parallelism: 1 };
        let (h, pool) = Hasher::start(params, Duration::from_millis(300)).await.unwrap();
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let passwords: Vec<String> = (0..8).map(|i| format!("password {i}")).collect();
        let hashes: Vec<_> = passwords.iter().map(|p| h.hash(p)).collect();
        for phc in futures_util::future::join_all(hashes).await {
            assert!(phc.unwrap().starts_with("$argon2id$"));
        }
        let after_burst = pooled(&pool);
        assert!((1..=workers).contains(&after_burst), "{after_burst} buffers for {workers} workers");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pooled(&pool) > 0 {
            assert!(std::time::Instant::now() < deadline, "buffers still held after a quiet period");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A later hash allocates afresh.
        assert!(h.verify("password 0", None).await.is_ok());
        assert_eq!(pooled(&pool), 1);
    }

    #[tokio::test]
    async fn many_concurrent_hashes_all_complete() {
        let h = Arc::new(Hasher::new(Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 }).await.unwrap());
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let h = h.clone();
                tokio::spawn(async move { h.hash(&format!("password {i}")).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
    }
}
