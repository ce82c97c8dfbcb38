//! An executor's memory budget (Spark's unified memory manager): execution memory for tasks' buffering operators and guests, storage memory for cached blocks, one pool.
//!
//! The budget (`wisp.executor.memory`) less the fixed buffers of its task
//! slots is the *usable* pool. Execution (a task's sort buffers, shuffle
//! writer buffers, its guests' linear memory) and storage (cached blocks)
//! both draw from it. Storage may use any free memory; execution may evict
//! cached blocks, but never below the protected storage region
//! (`wisp.memory.storageFraction` of the pool). Each running task may hold
//! at most `1/N` of the execution memory with `N` tasks running, so one
//! task cannot starve the others. A consumer that is refused spills (host
//! operators) or fails (a guest growing past the budget).
//!
//! Nothing here allocates: it is bookkeeping that every buffering operator
//! consults before it grows and updates when it shrinks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::settings::keys::format_bytes;

/// Fixed buffers of one task slot that no consumer asks for: its input and
/// output batches and the buffered readers and writers of its files.
pub(crate) const SLOT_FIXED_BYTES: u64 = 8 << 20;

/// The least execution memory a task slot needs to make progress (one
/// record plus the spill writer's buffer).
pub(crate) const SLOT_MIN_EXECUTION_BYTES: u64 = 4 << 20;

/// A budget too small for its task slots (the reason, for the key's error).
#[derive(Debug, thiserror::Error)]
#[error("expected at least {} for {slots} task slots ({} each)", format_bytes(*.minimum), format_bytes(*.per_slot))]
pub(crate) struct BudgetTooSmall {
    slots: u32,
    minimum: u64,
    per_slot: u64,
}

/// What the executor can free on request: its cached blocks.
pub(crate) trait StorageEvictor: Send + Sync {
    /// Evicts cached blocks worth at least `bytes` if it can (moving
    /// memory-and-disk blocks to disk), releasing their storage memory;
    /// returns the bytes released.
    fn evict(&self, bytes: u64) -> u64;
}

/// The execution memory one running task holds.
#[derive(Clone, Copy, Default)]
struct Held {
    /// By its host operators (capped at half a fair share).
    operators: u64,
    /// By its guests' linear memories.
    guests: u64,
}

/// The accounts, under one lock.
#[derive(Default)]
struct Accounts {
    /// Execution memory held per running task (key: the task's account number).
    execution: HashMap<u64, Held>,
    /// Storage memory held by cached blocks.
    storage: u64,
}

impl Accounts {
    fn execution_total(&self) -> u64 {
        self.execution.values().map(|h| h.operators + h.guests).sum()
    }
}

/// The memory budget of one executor (shared by its task threads and its block managers).
pub(crate) struct MemoryManager {
    /// The pool execution and storage share (budget less the slots' fixed buffers).
    usable: u64,
    /// Task slots sharing it.
    slots: u32,
    /// Storage memory execution may not evict.
    protected_storage: u64,
    accounts: Mutex<Accounts>,
    next_account: AtomicU64,
    evictors: Mutex<Vec<Weak<dyn StorageEvictor>>>,
    /// Highest execution + storage use seen (for benchmarks and logs).
    peak: AtomicU64,
    /// Whether guests took it past the pool (logged once).
    over_budget: std::sync::atomic::AtomicBool,
}

impl MemoryManager {
    /// A budget of `budget` bytes for `slots` task slots, `reserved_per_slot`
    /// more fixed bytes per slot (fetch buffers), and `storage_fraction` of
    /// the pool protected for cached blocks; refuses a budget that leaves a
    /// slot less than it needs to make progress.
    pub(crate) fn new(
        budget: u64,
        slots: u32,
        reserved_per_slot: u64,
        storage_fraction: f64,
    ) -> Result<MemoryManager, BudgetTooSmall> {
        let slots = slots.max(1);
        let per_slot = SLOT_FIXED_BYTES + reserved_per_slot + SLOT_MIN_EXECUTION_BYTES;
        let minimum = per_slot * u64::from(slots);
        if budget < minimum {
            return Err(BudgetTooSmall { slots, minimum, per_slot });
        }
        let usable = budget - (SLOT_FIXED_BYTES + reserved_per_slot) * u64::from(slots);
        Ok(MemoryManager {
            usable,
            slots,
            protected_storage: (usable as f64 * storage_fraction.clamp(0.0, 1.0)) as u64,
            accounts: Mutex::new(Accounts::default()),
            next_account: AtomicU64::new(1),
            evictors: Mutex::new(Vec::new()),
            peak: AtomicU64::new(0),
            over_budget: Default::default(),
        })
    }

    /// A manager whose pool is `usable` bytes, however small (unit tests of spilling).
    #[cfg(test)]
    pub(crate) fn with_usable(usable: u64) -> Arc<MemoryManager> {
        Arc::new(MemoryManager {
            usable,
            slots: 1,
            protected_storage: usable / 2,
            accounts: Mutex::new(Accounts::default()),
            next_account: AtomicU64::new(1),
            evictors: Mutex::new(Vec::new()),
            peak: AtomicU64::new(0),
            over_budget: Default::default(),
        })
    }

    /// The pool execution and storage share.
    pub(crate) fn usable(&self) -> u64 {
        self.usable
    }

    /// A task slot's fair share of the pool when every slot is busy.
    pub(crate) fn slot_share(&self) -> u64 {
        self.usable / u64::from(self.slots)
    }

    /// Highest execution + storage memory held at once so far.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Registers a block manager whose blocks execution may evict.
    pub(crate) fn add_evictor(&self, evictor: Weak<dyn StorageEvictor>) {
        let mut list = self.evictors.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|e| e.strong_count() > 0);
        list.push(evictor);
    }

    /// Opens the account of one running task; it is closed (and its memory released) when dropped.
    pub(crate) fn task(self: &Arc<Self>) -> TaskMemory {
        let id = self.next_account.fetch_add(1, Ordering::Relaxed);
        self.lock().execution.insert(id, Held::default());
        TaskMemory { manager: self.clone(), id }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_peak(&self, a: &Accounts) {
        self.peak.fetch_max(a.execution_total() + a.storage, Ordering::Relaxed);
    }

    /// Grants task `id` up to `bytes` more execution memory, evicting cached
    /// blocks above the protected region if that is what it takes. A host
    /// operator (`guest` false) gets at most half of a fair share (`1/2N` of
    /// the pool with `N` tasks running) and what is free, possibly nothing
    /// (it spills). A guest's growth cannot wait or spill: it is always
    /// granted and counted (operators then find less free), even past the
    /// pool, which is logged once (`wisp.task.memory` still caps each guest).
    fn acquire_execution(&self, id: u64, bytes: u64, guest: bool) -> u64 {
        let mut evicted = false;
        loop {
            let mut a = self.lock();
            let wanted = if guest {
                bytes
            } else {
                let tasks = a.execution.len().max(1) as u64;
                let held = a.execution.get(&id).map_or(0, |h| h.operators);
                // The pool less the protected storage in use, half of it shared by the tasks' operators.
                let pool = self.usable - a.storage.min(self.protected_storage);
                bytes.min((pool / tasks / 2).saturating_sub(held))
            };
            let free = self.usable.saturating_sub(a.execution_total() + a.storage);
            let evictable = a.storage.saturating_sub(self.protected_storage);
            if free < wanted && evictable > 0 && !evicted {
                drop(a);
                self.evict((wanted - free).min(evictable));
                evicted = true;
                continue;
            }
            let grant = if guest { bytes } else { wanted.min(free) };
            let held = a.execution.entry(id).or_default();
            if guest {
                held.guests += grant;
            } else {
                held.operators += grant;
            }
            self.note_peak(&a);
            if guest && grant > free && !self.over_budget.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    usable = self.usable,
                    in_use = a.execution_total() + a.storage,
                    "guests' linear memory takes the executor past wisp.executor.memory; lower wisp.task.memory or the cores, or raise the budget"
                );
            }
            return grant;
        }
    }

    /// Asks the block managers to free `bytes` of storage memory (without the accounts' lock held).
    fn evict(&self, bytes: u64) {
        let evictors: Vec<_> = {
            let list = self.evictors.lock().unwrap_or_else(|p| p.into_inner());
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let mut left = bytes;
        for e in evictors {
            if left == 0 {
                break;
            }
            left = left.saturating_sub(e.evict(left));
        }
    }

    fn release_execution(&self, id: u64, bytes: u64, guests: bool) {
        let mut a = self.lock();
        if let Some(held) = a.execution.get_mut(&id) {
            let from = if guests { &mut held.guests } else { &mut held.operators };
            *from = from.saturating_sub(bytes);
        }
    }

    /// Takes `bytes` of storage memory if that much is free (the caller evicts its own blocks first if not).
    pub(crate) fn try_acquire_storage(&self, bytes: u64) -> bool {
        let mut a = self.lock();
        let free = self.usable.saturating_sub(a.execution_total() + a.storage);
        if bytes > free {
            return false;
        }
        a.storage += bytes;
        self.note_peak(&a);
        true
    }

    /// Gives back storage memory.
    pub(crate) fn release_storage(&self, bytes: u64) {
        let mut a = self.lock();
        a.storage = a.storage.saturating_sub(bytes);
    }

    /// Execution and storage memory held now.
    pub(crate) fn used(&self) -> (u64, u64) {
        let a = self.lock();
        (a.execution_total(), a.storage)
    }

    /// What the pool holds now, split by holder (heartbeats, metrics, the UI).
    pub(crate) fn usage(&self) -> MemoryUse {
        let a = self.lock();
        let guests = a.execution.values().map(|h| h.guests).sum();
        MemoryUse {
            pool: self.usable,
            operators: a.execution_total() - guests,
            guests,
            storage: a.storage,
        }
    }
}

/// A snapshot of an executor's memory pool, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryUse {
    /// The pool execution and storage share (`wisp.executor.memory` less the slots' fixed buffers).
    pub(crate) pool: u64,
    /// Held by running tasks' host operators (sort buffers, hash tables, shuffle writers).
    pub(crate) operators: u64,
    /// Guests' linear memory (counted against the pool, never refused).
    pub(crate) guests: u64,
    /// Cached blocks in memory.
    pub(crate) storage: u64,
}

/// One running task's account: what its operators and guests hold. Dropping it releases everything.
pub(crate) struct TaskMemory {
    manager: Arc<MemoryManager>,
    id: u64,
}

impl TaskMemory {
    /// Up to `bytes` more execution memory (possibly none: then the caller spills).
    pub(crate) fn acquire(&self, bytes: u64) -> u64 {
        self.manager.acquire_execution(self.id, bytes, false)
    }

    /// `bytes` more for a guest's linear memory: always granted, counted against the pool.
    pub(crate) fn acquire_guest(&self, bytes: u64) {
        self.manager.acquire_execution(self.id, bytes, true);
    }

    /// Gives back `bytes` of guest memory.
    pub(crate) fn release_guest(&self, bytes: u64) {
        self.manager.release_execution(self.id, bytes, true)
    }

    /// A task slot's fair share of its executor's pool.
    pub(crate) fn slot_share(&self) -> u64 {
        self.manager.slot_share()
    }

    /// Gives back `bytes` of operator memory.
    pub(crate) fn release(&self, bytes: u64) {
        self.manager.release_execution(self.id, bytes, false)
    }
}

impl std::fmt::Debug for TaskMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskMemory({})", self.id)
    }
}

impl Drop for TaskMemory {
    fn drop(&mut self) {
        self.manager.lock().execution.remove(&self.id);
    }
}

/// A consumer's reservation: memory it holds from its task's account, grown in steps and given back when dropped.
pub(crate) struct Reservation {
    task: Arc<TaskMemory>,
    held: u64,
}

impl Reservation {
    /// An empty reservation on `task`'s account.
    pub(crate) fn new(task: Arc<TaskMemory>) -> Reservation {
        Reservation { task, held: 0 }
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Makes sure `bytes` are held, asking for at least `step` more at a
    /// time; false if the budget cannot give that much (the caller spills).
    pub(crate) fn ensure(&mut self, bytes: u64, step: u64) -> bool {
        if bytes <= self.held {
            return true;
        }
        let want = (bytes - self.held).max(step);
        let got = self.task.acquire(want);
        self.held += got;
        bytes <= self.held
    }

    /// Gives back everything but `keep` bytes.
    pub(crate) fn shrink_to(&mut self, keep: u64) {
        if self.held > keep {
            self.task.release(self.held - keep);
            self.held = keep;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

/// The machine's physical memory, for the default budget (`/proc/meminfo`; 8 GiB where unknown).
pub(crate) fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib << 10)
        })
        .unwrap_or(8 << 30)
}

/// The default `wisp.executor.memory`: 60% of the machine's memory (Spark's `spark.memory.fraction`).
pub(crate) fn default_budget() -> u64 {
    physical_memory() / 10 * 6
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn manager(budget_mib: u64, slots: u32) -> Arc<MemoryManager> {
        Arc::new(MemoryManager::new(budget_mib * MIB, slots, 0, 0.5).unwrap())
    }

    #[test]
    fn a_budget_below_the_slots_minimum_is_refused_with_the_minimum() {
        let e = MemoryManager::new(20 * MIB, 2, 0, 0.5).err().unwrap();
        assert_eq!(e.to_string(), "expected at least 24m for 2 task slots (12m each)");
        assert!(MemoryManager::new(24 * MIB, 2, 0, 0.5).is_ok());
        let e = MemoryManager::new(100 * MIB, 2, 48 * MIB, 0.5).err().unwrap();
        assert_eq!(e.to_string(), "expected at least 120m for 2 task slots (60m each)");
    }

    #[test]
    fn running_tasks_share_execution_memory_fairly() {
        let m = manager(8 + 100, 1);
        assert_eq!(m.usable(), 100 * MIB);
        let a = m.task();
        // Alone, a task's operators may hold half the pool.
        assert_eq!(a.acquire(80 * MIB), 50 * MIB);
        let b = m.task();
        // Two tasks: a quarter each; `a` already holds more, `b` gets its quarter.
        assert_eq!(a.acquire(10 * MIB), 0);
        assert_eq!(b.acquire(80 * MIB), 25 * MIB);
        a.release(40 * MIB);
        assert_eq!(a.acquire(80 * MIB), 15 * MIB);
        drop(b);
        assert_eq!(m.used(), (25 * MIB, 0));
        // Guests get what they ask for, counted: operators then find nothing free.
        a.acquire_guest(80 * MIB);
        assert_eq!(m.used(), (105 * MIB, 0));
        assert_eq!(a.acquire(MIB), 0);
        a.release_guest(80 * MIB);
        drop(a);
        assert_eq!(m.used(), (0, 0));
        assert_eq!(m.peak(), 105 * MIB);
    }

    struct Blocks {
        manager: Arc<MemoryManager>,
        held: Mutex<u64>,
    }

    impl StorageEvictor for Blocks {
        fn evict(&self, bytes: u64) -> u64 {
            let mut held = self.held.lock().unwrap();
            let freed = bytes.min(*held);
            *held -= freed;
            self.manager.release_storage(freed);
            freed
        }
    }

    #[test]
    fn execution_evicts_storage_down_to_the_protected_region_only() {
        let m = manager(8 + 100, 1);
        assert!(m.try_acquire_storage(90 * MIB));
        assert!(!m.try_acquire_storage(20 * MIB));
        let blocks = Arc::new(Blocks { manager: m.clone(), held: Mutex::new(90 * MIB) });
        let weak: Weak<dyn StorageEvictor> = Arc::downgrade(&(blocks.clone() as Arc<_>));
        m.add_evictor(weak);
        let t = m.task();
        // An operator's half share is 25 of the 50 not protected; 10 are free, 15 more are evicted.
        assert_eq!(t.acquire(80 * MIB), 25 * MIB);
        assert_eq!(*blocks.held.lock().unwrap(), 75 * MIB);
        // A guest's growth evicts everything above the protected storage, then goes past the pool.
        t.acquire_guest(35 * MIB);
        assert_eq!(*blocks.held.lock().unwrap(), 50 * MIB);
        assert_eq!(m.used(), (60 * MIB, 50 * MIB));
    }

    #[test]
    fn reservations_grow_in_steps_and_give_everything_back() {
        let m = manager(8 + 10, 1);
        let t = Arc::new(m.task());
        let mut r = Reservation::new(t.clone());
        assert!(r.ensure(MIB, 4 * MIB));
        assert_eq!(r.held(), 4 * MIB);
        assert!(r.ensure(5 * MIB, MIB));
        assert!(!r.ensure(6 * MIB, MIB));
        r.shrink_to(MIB);
        assert_eq!(m.used().0, MIB);
        drop(r);
        assert_eq!(m.used().0, 0);
    }
}
