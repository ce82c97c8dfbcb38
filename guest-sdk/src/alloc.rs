//! A size-class free-list allocator for single-threaded wasm guests (cargo
//! feature `fast-alloc`, on by default).
//!
//! Blocks of up to [`MAX_SMALL`] bytes (alignment up to 16) come from 40 size
//! classes (16-byte steps to 128, then four classes per power of two); a
//! freed block goes on its class's free list and is reused by the next
//! allocation of that class. Fresh blocks are carved from 64 KiB chunks of
//! the system allocator. Larger or more aligned blocks go to the system
//! allocator. Small blocks are never returned to the system: a guest
//! instance lives for one task (or one job's main), and reuse bounds each
//! class by its peak use. Per-record strings and tuples cost a list pop and
//! push instead of a trip through dlmalloc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The largest size served from the size classes.
pub(crate) const MAX_SMALL: usize = 32 * 1024;
/// Alignment of every small block.
const SMALL_ALIGN: usize = 16;
/// Number of size classes: 8 up to 128 bytes, then 4 per power of two up to 32 KiB.
const CLASSES: usize = 8 + 4 * 8;
/// Size of the chunks fresh blocks are carved from.
const CHUNK: usize = 64 * 1024;

/// The size class of a small size (1..=`MAX_SMALL`).
#[inline(always)]
pub(crate) const fn class_of(size: usize) -> usize {
    if size <= 128 {
        return size.saturating_sub(1) / 16;
    }
    let s = size - 1;
    let log = (usize::BITS - 1 - s.leading_zeros()) as usize; // floor(log2(s)) >= 7
    let sub = (s >> (log - 2)) & 3;
    8 + (log - 7) * 4 + sub
}

/// The block size of a size class.
pub(crate) const fn class_size(class: usize) -> usize {
    if class < 8 {
        return (class + 1) * 16;
    }
    let log = (class - 8) / 4 + 7;
    let sub = (class - 8) % 4;
    (5 + sub) << (log - 2)
}

/// `System.alloc`, out of line (large blocks are rare).
///
/// # Safety
///
/// As [`GlobalAlloc::alloc`].
#[cold]
#[inline(never)]
unsafe fn system_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { System.alloc(layout) }
}

/// `System.dealloc`, out of line (large blocks are rare).
///
/// # Safety
///
/// As [`GlobalAlloc::dealloc`].
#[cold]
#[inline(never)]
unsafe fn system_dealloc(block: *mut u8, layout: Layout) {
    // SAFETY: forwarded contract.
    unsafe { System.dealloc(block, layout) }
}

struct State {
    free: [*mut u8; CLASSES],
    bump: *mut u8,
    end: *mut u8,
}

/// The allocator. Sound only where there is a single thread (wasm32 without
/// the `atomics` target feature), which is the only place it is installed.
pub(crate) struct FastAlloc {
    state: UnsafeCell<State>,
}

// SAFETY: installed only on single-threaded wasm32 targets (see `lib.rs`),
// where no two threads can reach the state.
unsafe impl Sync for FastAlloc {}

impl FastAlloc {
    /// A new, empty allocator.
    #[must_use]
    pub(crate) const fn new() -> Self {
        Self {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }

    #[inline(always)]
    fn is_small(layout: Layout) -> bool {
        layout.size() <= MAX_SMALL && layout.align() <= SMALL_ALIGN
    }

    /// # Safety
    ///
    /// Single-threaded use only; `class < CLASSES`.
    #[inline(always)]
    unsafe fn alloc_small(&self, class: usize) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync` impl); no reference to the state outlives this call.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            // SAFETY: a free block starts with the pointer to the next free block.
            state.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        // SAFETY: forwarded contract.
        unsafe { self.carve(class) }
    }

    /// A fresh block of class `class`, cut from the current chunk (or a new
    /// one): the rare path of [`FastAlloc::alloc_small`], kept out of line so
    /// that the common path is a few instructions inlined into the caller.
    ///
    /// # Safety
    ///
    /// Single-threaded use only; `class < CLASSES`.
    #[cold]
    #[inline(never)]
    unsafe fn carve(&self, class: usize) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync` impl); no reference to the state outlives this call.
        let state = unsafe { &mut *self.state.get() };
        let size = class_size(class);
        if (state.end as usize) - (state.bump as usize) < size {
            let chunk = CHUNK.max(size);
            // SAFETY: non-zero size, valid power-of-two alignment.
            let fresh =
                unsafe { System.alloc(Layout::from_size_align_unchecked(chunk, SMALL_ALIGN)) };
            if fresh.is_null() {
                return fresh;
            }
            state.bump = fresh;
            // SAFETY: within the chunk just allocated.
            state.end = unsafe { fresh.add(chunk) };
        }
        let block = state.bump;
        // SAFETY: `size` bytes remain in the chunk.
        state.bump = unsafe { block.add(size) };
        block
    }

    /// # Safety
    ///
    /// Single-threaded use only; `block` came from `alloc_small(class)`.
    #[inline(always)]
    unsafe fn free_small(&self, block: *mut u8, class: usize) {
        // SAFETY: single-threaded; the block is at least 16 bytes and 16-aligned.
        unsafe {
            let state = &mut *self.state.get();
            block.cast::<*mut u8>().write(state.free[class]);
            state.free[class] = block;
        }
    }
}

impl Default for FastAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: small blocks are 16-aligned and at least as large as requested;
// every block is freed into the class (or allocator) it came from, since the
// class is a function of the layout `dealloc` receives.
unsafe impl GlobalAlloc for FastAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::is_small(layout) {
            // SAFETY: class_of of a small size is < CLASSES.
            unsafe { self.alloc_small(class_of(layout.size())) }
        } else {
            // SAFETY: forwarded contract.
            unsafe { system_alloc(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if Self::is_small(layout) {
            // SAFETY: allocated by alloc_small with the same class.
            unsafe { self.free_small(block, class_of(layout.size())) }
        } else {
            // SAFETY: allocated by System with this layout.
            unsafe { system_dealloc(block, layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::is_small(layout) {
            // SAFETY: forwarded contract; the block has `size` writable bytes.
            unsafe {
                let block = self.alloc(layout);
                if !block.is_null() {
                    ptr::write_bytes(block, 0, layout.size());
                }
                block
            }
        } else {
            // SAFETY: forwarded contract.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (Self::is_small(layout), Self::is_small(new_layout)) {
            (false, false) => unsafe { System.realloc(block, layout, new_size) },
            (true, true) if class_of(layout.size()) == class_of(new_size) => block,
            _ => {
                // SAFETY: forwarded contract; copy the bytes both blocks hold.
                unsafe {
                    let fresh = self.alloc(new_layout);
                    if !fresh.is_null() {
                        ptr::copy_nonoverlapping(block, fresh, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    fresh
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_small_size_tightly() {
        assert_eq!(class_of(MAX_SMALL), CLASSES - 1);
        assert_eq!(class_size(CLASSES - 1), MAX_SMALL);
        let mut previous = 0;
        for size in 1..=MAX_SMALL {
            let class = class_of(size);
            let block = class_size(class);
            assert!(block >= size, "size {size} class {class} block {block}");
            assert!(block.is_multiple_of(SMALL_ALIGN));
            assert!(class == 0 || class_size(class - 1) < size, "size {size} fits a smaller class");
            assert!(class >= previous);
            previous = class;
        }
    }

    #[test]
    fn blocks_are_reused_and_hold_their_bytes() {
        let a = FastAlloc::new();
        unsafe {
            let l = Layout::from_size_align(24, 8).unwrap();
            let p = a.alloc(l);
            p.write_bytes(7, 24);
            let q = a.realloc(p, l, 30);
            assert_eq!(q, p, "same class: in place");
            let r = a.realloc(q, Layout::from_size_align(30, 8).unwrap(), 100);
            assert_eq!(std::slice::from_raw_parts(r, 24), &[7; 24]);
            let big = a.realloc(r, Layout::from_size_align(100, 8).unwrap(), 100_000);
            assert_eq!(std::slice::from_raw_parts(big, 24), &[7; 24]);
            a.dealloc(big, Layout::from_size_align(100_000, 8).unwrap());
            let s = a.alloc(Layout::from_size_align(100, 16).unwrap());
            assert_eq!(s, r, "freed block reused");
            assert_eq!(s as usize % 16, 0);
            a.dealloc(s, Layout::from_size_align(100, 16).unwrap());
        }
    }
}
