//! Fibers: a script past `busy-reply-threshold` lets its event loop serve the loop's other
//! clients, as Redis serves its clients between a busy script's instructions (they get -BUSY,
//! or run SCRIPT KILL, FUNCTION KILL or SHUTDOWN NOSAVE).
//!
//! An event loop is one thread running its connections as tasks, and a script runs inside one
//! task's command, on that thread: however long it runs, the thread cannot get back to the
//! loop's other tasks until it returns, so with one loop nobody could get -BUSY or stop the
//! script. A command that may run a script (EVAL, FCALL, EXEC... see
//! [`crate::command::CommandSpec::runs_scripts`]) therefore runs on a fiber: a stack of its own
//! that [`suspend`] can leave in the middle of the script (the interrupt hook calls it once the
//! script is busy) and that [`run`] resumes after the loop's other tasks had their turn. The
//! script keeps every gate meanwhile, so atomicity holds: the other tasks only see BUSY.
//!
//! A fiber is created and resumed only by the task that owns it, on its event loop's
//! current-thread runtime; stacks are kept per thread for reuse.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::ptr;
use std::thread::ThreadId;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// A fiber's stack. A debug build needs about 8 KB per level to turn a script's reply nested
/// 1,000 deep (the most a reply may nest) into RESP, 8 MB in all; an optimised one a fraction.
/// Only the pages touched are ever backed by memory.
const STACK_SIZE: usize = 16 << 20;

/// Spare stacks an event loop keeps: one per fiber alive at once, which is one plus the
/// scripts refused BUSY while another is suspended.
const SPARE_STACKS: usize = 4;

type FiberYielder = Yielder<(), ()>;

thread_local! {
    static SPARE: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
    /// The fiber running on this thread now, for [`suspend`]; null on the thread's own stack.
    static CURRENT: Cell<*const FiberYielder> = const { Cell::new(ptr::null()) };
    /// [`run`]s that found no stack and run their work on the task's own stack.
    static WITHOUT_STACK: Cell<u32> = const { Cell::new(0) };
}

/// Whether a script may run here: on a fiber, or in a [`run`] that had to do without one.
pub fn scripts_may_run_here() -> bool {
    !CURRENT.with(Cell::get).is_null() || WITHOUT_STACK.with(Cell::get) > 0
}

/// Lets the event loop run its other tasks if this runs on a fiber, and returns once [`run`]
/// resumes it; on a thread's own stack (the AOF loader, a master link) it returns at once.
pub fn suspend() {
    let yielder = CURRENT.with(Cell::get);
    if yielder.is_null() {
        return;
    }
    // SAFETY: CURRENT is only ever the Yielder of the fiber running on this thread now: the
    // fiber sets it when it starts and after each resumption (below), and `Fiber::resume`
    // puts back the previous value whenever the fiber stops running. The Yielder lives on the
    // fiber's own stack, which exists for as long as the fiber does.
    unsafe { (*yielder).suspend(()) };
    CURRENT.with(|current| current.set(yielder));
}

/// Runs `work` on a fiber, letting the event loop's other tasks run whenever it suspends. Only
/// for a task of a current-thread runtime (an event loop), which never leaves its thread.
/// Without a stack (memory is short) it runs on the task's own stack, as scripts did before
/// fibers: a busy script then holds its event loop until it ends.
pub(crate) async fn run<R>(work: impl FnOnce() -> R) -> R {
    let mut fiber = match Fiber::new(work) {
        Ok(fiber) => fiber,
        Err(work) => {
            struct Counted;
            impl Drop for Counted {
                fn drop(&mut self) {
                    WITHOUT_STACK.with(|count| count.set(count.get() - 1));
                }
            }
            WITHOUT_STACK.with(|count| count.set(count.get() + 1));
            let _counted = Counted;
            return work();
        }
    };
    loop {
        if let Some(done) = fiber.resume() {
            return done;
        }
        tokio::task::yield_now().await;
    }
}

/// A closure running on a stack of its own, borrowing what it uses for `'a`.
struct Fiber<'a, R> {
    coroutine: Option<Coroutine<(), (), R, DefaultStack>>,
    /// The thread that made it: the only one that may resume it (see the `Send` impl).
    thread: ThreadId,
    _borrows: PhantomData<&'a mut ()>,
}

// SAFETY: the stack of a suspended fiber holds what its closure had at the time (gate guards,
// the Lua state's borrow...), some of which must stay on their thread. A fiber lives inside a
// connection task of an event loop, whose current-thread runtime polls (and drops) its tasks on
// that loop's thread only; tokio merely asks spawned tasks to be `Send`. `resume` checks that
// the fiber is still on the thread that made it.
unsafe impl<R: Send> Send for Fiber<'_, R> {}

impl<R> Drop for Fiber<'_, R> {
    fn drop(&mut self) {
        // Unwinding a suspended fiber's stack on another thread would break what the `Send`
        // impl above promises: stop the process instead.
        let suspended = self
            .coroutine
            .as_ref()
            .is_some_and(|c| c.started() && !c.done());
        if suspended && self.thread != std::thread::current().id() {
            std::process::abort();
        }
    }
}

impl<'a, R> Fiber<'a, R> {
    fn new<F: FnOnce() -> R + 'a>(work: F) -> Result<Self, F> {
        let stack = match SPARE.with(|spare| spare.borrow_mut().pop()) {
            Some(stack) => stack,
            None => match DefaultStack::new(STACK_SIZE) {
                Ok(stack) => stack,
                Err(_) => return Err(work),
            },
        };
        let body = move |yielder: &FiberYielder, ()| {
            CURRENT.with(|current| current.set(yielder));
            work()
        };
        // SAFETY: what `work` borrows lives for 'a, and the fiber cannot outlive 'a
        // (`_borrows`): it is driven to its end, or dropped within 'a (corosensei then unwinds
        // its stack; `run` drives every fiber to its end, so that happens only if the event
        // loop's runtime itself is dropped), or leaked and never resumed.
        let coroutine = unsafe { Coroutine::with_stack_unchecked(stack, body) };
        Ok(Fiber {
            coroutine: Some(coroutine),
            thread: std::thread::current().id(),
            _borrows: PhantomData,
        })
    }

    /// Runs the fiber until it suspends (None) or ends (its result).
    fn resume(&mut self) -> Option<R> {
        assert_eq!(
            self.thread,
            std::thread::current().id(),
            "a fiber resumed off its event loop"
        );
        let coroutine = self
            .coroutine
            .as_mut()
            .expect("a fiber resumed after its end");
        // Put back whatever ran before, also when a panic comes out of the fiber: CURRENT must
        // never point at a fiber that is not running (its stack may be gone).
        struct Restore(*const FiberYielder);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|current| current.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(Cell::get));
        let result = coroutine.resume(());
        match result {
            CoroutineResult::Yield(()) => None,
            CoroutineResult::Return(done) => {
                let stack = self.coroutine.take().expect("present").into_stack();
                SPARE.with(|spare| {
                    let mut spare = spare.borrow_mut();
                    if spare.len() < SPARE_STACKS {
                        spare.push(stack);
                    }
                });
                Some(done)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fiber_suspends_and_resumes_where_it_left_off() {
        let mut steps = Vec::new();
        let mut fiber = Fiber::new(|| {
            steps.push(1);
            assert!(scripts_may_run_here());
            suspend();
            steps.push(2);
            suspend();
            steps.push(3);
            7
        })
        .ok()
        .unwrap();
        assert!(!scripts_may_run_here());
        assert_eq!(fiber.resume(), None);
        assert!(!scripts_may_run_here(), "suspending leaves the fiber");
        assert_eq!(fiber.resume(), None);
        assert_eq!(fiber.resume(), Some(7));
        drop(fiber);
        assert_eq!(steps, [1, 2, 3]);
    }

    #[test]
    fn a_panic_out_of_a_fiber_leaves_no_fiber_current() {
        let mut fiber = Fiber::new(|| {
            suspend();
            panic!("inside the fiber");
        })
        .ok()
        .unwrap();
        assert_eq!(fiber.resume(), None);
        let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fiber.resume()));
        assert!(resumed.is_err());
        drop(fiber);
        assert!(!scripts_may_run_here(), "CURRENT points at a dead fiber");
    }

    #[test]
    fn suspend_off_a_fiber_returns_at_once() {
        suspend();
        assert!(!scripts_may_run_here());
    }

    #[test]
    fn a_fiber_dropped_while_suspended_drops_what_its_stack_held() {
        let dropped = std::rc::Rc::new(Cell::new(false));
        struct Flag(std::rc::Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let flag = Flag(dropped.clone());
        let mut fiber = Fiber::new(move || {
            let _held = flag;
            suspend();
            unreachable!("never resumed");
        })
        .ok()
        .unwrap();
        assert_eq!(fiber.resume(), None);
        drop(fiber);
        assert!(dropped.get());
        assert!(!scripts_may_run_here());
    }

    #[test]
    fn fibers_interleave_on_one_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let order = std::rc::Rc::new(RefCell::new(Vec::new()));
        let local = tokio::task::LocalSet::new();
        for name in ["a", "b"] {
            let order = order.clone();
            local.spawn_local(async move {
                run(|| {
                    for step in 0..2 {
                        order.borrow_mut().push(format!("{name}{step}"));
                        suspend();
                    }
                })
                .await
            });
        }
        runtime.block_on(local);
        let order = order.borrow();
        let at = |step: &str| order.iter().position(|s| s == step).unwrap();
        assert_eq!(order.len(), 4);
        // Each ran its second step after the other's first: suspending let the other run.
        assert!(at("b0") < at("a1") && at("a0") < at("b1"), "{order:?}");
    }
}
