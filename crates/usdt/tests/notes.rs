//! The probes of this test executable, as `ustrace_probes` and `readelf`
//! see them: provider, name, argument specs and signs, the `nop` + 10-byte
//! `nop` at each site, the order arguments are evaluated in, and the
//! values in the registers when a probe fires (by trapping on the `nop`
//! ourselves). The sites are in tests/common; semaphores are in
//! semaphores.rs, the example and small crates built with rustc in
//! linking.rs.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use std::collections::BTreeSet;

use common::*;
use ustrace_probes::NopKind;
use ustrace_usdt::ProbeArg;

// ---------------------------------------------------------------------------
// The notes.

#[test]
fn basic_probe_note() {
    let loc = location("basic");
    assert_eq!(
        signs(loc),
        [false, true, false, false, false, true, false, false, true, false]
    );
    // `8@%rax -8@%rcx ...`: the substituted operands of the asm block.
    for spec in loc.args_text.split(' ') {
        assert!(
            spec.starts_with("8@%r") || spec.starts_with("-8@%r"),
            "{}",
            loc.args_text
        );
    }
    assert_eq!(loc.semaphore, 0);
    assert_eq!(loc.semaphore_offset, None);
    assert_ne!(loc.base, 0, "the note must record .stapsdt.base");
}

#[test]
fn every_site_is_a_nop_then_a_nop10() {
    let data = std::fs::read(exe()).unwrap();
    let mut sites = 0;
    for probe in probes().probes.iter().filter(|p| p.provider == PROVIDER) {
        for loc in &probe.locations {
            assert_eq!(
                loc.nop,
                NopKind::Nop1Nop10,
                "{}:{}",
                probe.provider,
                probe.name
            );
            let at = loc.file_offset as usize;
            assert_eq!(
                &data[at..at + 11],
                &[0x90, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
                "{}: the site must be nop + nop10",
                probe.name
            );
            sites += 1;
        }
    }
    // basic zero twelve trapped generic(2) twice(2) twice_guarded(3)
    // order guarded named named_other
    assert_eq!(sites, 15);
}

#[test]
fn zero_arguments() {
    let loc = location("zero");
    assert_eq!(loc.args_text, "");
    assert!(loc.args.is_empty());
}

#[test]
fn twelve_arguments_in_twelve_registers() {
    let loc = location("twelve");
    assert_eq!(
        signs(loc),
        [true, false, true, false, true, false, true, false, true, false, true, false]
    );
    // All twelve values differ (see `fire_all`), so they need twelve
    // registers (the compiler may share one between equal values).
    let regs: BTreeSet<_> = args(loc).iter().map(register).collect();
    assert_eq!(regs.len(), 12, "{}", loc.args_text);
}

#[test]
fn generic_sites_take_their_sign_from_the_type() {
    let locs = locations("generic");
    assert_eq!(locs.len(), 2, "one per instantiation: {locs:#?}");
    let mut signs: Vec<bool> = locs.iter().map(|l| signs(l)[0]).collect();
    signs.sort();
    assert_eq!(signs, [false, true]);
}

#[test]
fn same_probe_at_several_sites() {
    let plain = locations("twice");
    assert_eq!(plain.len(), 2);
    assert_ne!(plain[0].pc, plain[1].pc);

    let guarded = locations("twice_guarded");
    assert_eq!(guarded.len(), 3, "two in fire_twice, one elsewhere");
    let pcs: BTreeSet<u64> = guarded.iter().map(|l| l.pc).collect();
    assert_eq!(pcs.len(), 3);
    assert!(guarded.iter().all(|l| l.semaphore_offset.is_some()));
    assert!(
        guarded.iter().all(|l| (l.semaphore, l.semaphore_offset)
            == (guarded[0].semaphore, guarded[0].semaphore_offset)),
        "all sites of a probe share its semaphore: {guarded:#?}"
    );
    // A different probe has a different semaphore.
    assert_ne!(location("guarded").semaphore, guarded[0].semaphore);
}

#[test]
fn arguments_are_evaluated_once_in_order() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    probes();
    EVALUATED.lock().unwrap().clear();
    fire_order();
    assert_eq!(*EVALUATED.lock().unwrap(), [1, 2, 3]);
}

#[test]
fn probe_arg_values() {
    assert_eq!((-1i8).into_probe_value(), u64::MAX);
    assert_eq!(255u8.into_probe_value(), 255);
    assert_eq!((-2i32).into_probe_value(), (-2i64) as u64);
    assert_eq!(u32::MAX.into_probe_value(), 0xffff_ffff);
    assert_eq!(true.into_probe_value(), 1);
    assert_eq!('A'.into_probe_value(), 65);
    let x = 5u32;
    assert_eq!((&x).into_probe_value(), &x as *const u32 as u64);
    let s: &[u8] = b"abc";
    assert_eq!(s.into_probe_value(), s.as_ptr() as u64);
    const { assert!(i64::SIGNED && isize::SIGNED && !usize::SIGNED && !<*const u8>::SIGNED) };
}

// ---------------------------------------------------------------------------
// Register values at the probe, by trapping on the nop.

mod trap {
    //! A minimal breakpoint: replace the probe's `nop` by `int3` and read
    //! the registers in a SIGTRAP handler, like a uprobe does. Raw system
    //! calls, so that the crate needs no `libc`.

    use std::arch::{asm, global_asm};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// The general registers at the trap, in `mcontext_t.gregs` order.
    pub static GREGS: [AtomicU64; 23] = [const { AtomicU64::new(0) }; 23];
    /// Set by the handler.
    pub static HIT: AtomicBool = AtomicBool::new(false);

    const SYS_MPROTECT: u64 = 10;
    const SYS_RT_SIGACTION: u64 = 13;
    const SIGTRAP: u64 = 5;
    const SA_SIGINFO: u64 = 4;
    const SA_RESTORER: u64 = 0x0400_0000;
    /// Offset of `uc_mcontext.gregs` in x86-64 `ucontext_t`.
    const GREGS_OFFSET: usize = 40;

    global_asm!(
        ".pushsection .text.ustrace_usdt_test_restorer,\"ax\",@progbits",
        ".globl ustrace_usdt_test_restorer",
        ".hidden ustrace_usdt_test_restorer",
        "ustrace_usdt_test_restorer:",
        "mov $15, %eax", // rt_sigreturn
        "syscall",
        ".popsection",
        options(att_syntax)
    );

    unsafe extern "C" {
        fn ustrace_usdt_test_restorer();
    }

    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }

    extern "C" fn on_trap(_sig: i32, _info: *mut u8, ucontext: *mut u8) {
        // SAFETY: the kernel passes a valid ucontext_t.
        let gregs = unsafe { ucontext.add(GREGS_OFFSET) } as *const u64;
        for (i, g) in GREGS.iter().enumerate() {
            // SAFETY: gregs has 23 entries.
            g.store(unsafe { gregs.add(i).read() }, Ordering::SeqCst);
        }
        // Execution resumes after the int3, i.e. after the 1-byte nop.
        HIT.store(true, Ordering::SeqCst);
    }

    unsafe fn syscall4(n: u64, a: u64, b: u64, c: u64, d: u64) -> i64 {
        let ret: i64;
        // SAFETY: up to the caller.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") n as i64 => ret,
                in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
                lateout("rcx") _, lateout("r11") _,
                options(nostack)
            );
        }
        ret
    }

    fn mprotect(page: u64, prot: u64) {
        // SAFETY: changes the protection of one page of our own text.
        let r = unsafe { syscall4(SYS_MPROTECT, page, 4096, prot, 0) };
        assert_eq!(r, 0, "mprotect failed");
    }

    /// Runs `f` with an `int3` in place of the `nop` at `pc`, and returns
    /// the registers at the trap.
    pub fn with_breakpoint(pc: u64, f: impl FnOnce()) -> [u64; 23] {
        let new = KernelSigaction {
            handler: on_trap as *const () as usize,
            flags: SA_SIGINFO | SA_RESTORER,
            restorer: ustrace_usdt_test_restorer as *const () as usize,
            mask: 0,
        };
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        let page = pc & !4095;
        let site = pc as *mut u8;
        // SAFETY: installs a handler for SIGTRAP, which nothing else uses,
        // and patches the probe nop of a function only this test calls.
        unsafe {
            let r = syscall4(
                SYS_RT_SIGACTION,
                SIGTRAP,
                &new as *const _ as u64,
                &mut old as *mut _ as u64,
                8,
            );
            assert_eq!(r, 0, "rt_sigaction failed");
            mprotect(page, 7);
            assert_eq!(site.read_volatile(), 0x90);
            site.write_volatile(0xcc);
        }
        HIT.store(false, Ordering::SeqCst);
        f();
        // SAFETY: undoes the above.
        unsafe {
            site.write_volatile(0x90);
            mprotect(page, 5);
            syscall4(SYS_RT_SIGACTION, SIGTRAP, &old as *const _ as u64, 0, 8);
        }
        assert!(HIT.load(Ordering::SeqCst), "the probe did not trap");
        std::array::from_fn(|i| GREGS[i].load(Ordering::SeqCst))
    }

    /// Index of a register in `gregs`.
    pub fn greg_index(r: ustrace_probes::Register) -> usize {
        use ustrace_probes::Register::*;
        match r {
            R8 => 0,
            R9 => 1,
            R10 => 2,
            R11 => 3,
            R12 => 4,
            R13 => 5,
            R14 => 6,
            R15 => 7,
            Rdi => 8,
            Rsi => 9,
            Rbp => 10,
            Rbx => 11,
            Rdx => 12,
            Rax => 13,
            Rcx => 14,
            Rsp => 15,
            Rip => 16,
        }
    }
}

#[test]
fn registers_hold_the_arguments_at_the_nop() {
    let loc = location("trapped");
    let pc = runtime_address(loc.file_offset, 'x');
    let value = 77u64;
    let text = b"hello\0";
    let (a, b, c, d, p, r, t, z) = (
        0x1122_3344_5566_7788u64,
        -2i32,
        -5i8,
        60000u16,
        text.as_ptr(),
        &value,
        true,
        -9isize,
    );
    let gregs = trap::with_breakpoint(pc, || fire_trapped(a, b, c, d, p, r, t, z));
    assert_eq!(gregs[16], pc + 1, "rip after the int3");

    let expected = [
        a.into_probe_value(),
        b.into_probe_value(),
        c.into_probe_value(),
        d.into_probe_value(),
        p.into_probe_value(),
        r.into_probe_value(),
        t.into_probe_value(),
        z.into_probe_value(),
        (-1i64).into_probe_value(),
        u64::MAX,
        0,
        i64::MIN as u64,
    ];
    let specs = args(loc);
    assert_eq!(specs.len(), expected.len());
    for (i, (spec, want)) in specs.iter().zip(expected).enumerate() {
        let got = gregs[trap::greg_index(register(spec))];
        assert_eq!(got, want, "argument {i} ({})", loc.args_text);
    }
    assert_eq!(
        signs(loc),
        [false, true, true, false, false, false, false, true, true, false, false, true]
    );
}

// ---------------------------------------------------------------------------
// readelf.

#[test]
fn readelf_agrees() {
    let mut ours: Vec<ReadelfNote> = probes()
        .probes
        .iter()
        .filter(|p| p.provider == PROVIDER)
        .flat_map(|p| {
            p.locations.iter().map(|l| ReadelfNote {
                provider: p.provider.clone(),
                name: p.name.clone(),
                location: l.pc,
                base: l.base,
                semaphore: l.semaphore,
                arguments: l.args_text.clone(),
            })
        })
        .collect();
    let mut theirs: Vec<ReadelfNote> = readelf_notes(&exe())
        .into_iter()
        .filter(|n| n.provider == PROVIDER)
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(theirs.len(), 15);

    // One `.stapsdt.base` byte, at the address every note records.
    let (base, size) = section_range(".stapsdt.base");
    assert_eq!(size, 1);
    assert!(theirs.iter().all(|n| n.base == base));
    assert!(section_flags(".stapsdt.base").contains('A'));
    // The notes are not loaded.
    assert!(!section_flags(".note.stapsdt").contains('A'));
}
