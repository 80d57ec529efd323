//! USDT probes for Rust programs, compatible with systemtap's `<sys/sdt.h>`.
//!
//! A probe declared with [`probe!`] is seen by `ustrace`, bpftrace, BCC's
//! `tplist`, gdb and `readelf -n` exactly like a C probe written with
//! `DTRACE_PROBEn(provider, name, ...)`.
//!
//! # The mechanism
//!
//! A USDT probe costs the running program two `nop` instructions. Everything
//! else is data that only a tracer reads (a guarded probe adds a load and a
//! branch: see "Semaphores" below). At every probe site the macros emit one
//! `core::arch::asm!` block that:
//!
//! 1. places the arguments in registers (the asm block's inputs),
//! 2. emits `990: nop` (0x90), the instruction a tracer replaces with a
//!    breakpoint, immediately followed by a 10-byte nop
//!    (`66 2e 0f 1f 84 00 00 00 00 00`), the sequence the upstream USDT
//!    header emits. Every tool attaches at the 1-byte nop, which the kernel
//!    emulates cheaply; a kernel that can optimize a uprobe on the 10-byte
//!    nop safely may let tools attach there later (ustrace keeps that choice
//!    in `ustrace_probes::attach_offset`). No bare 5-byte nop is emitted:
//!    the kernel's nop5 optimization can corrupt the x86-64 red zone.
//! 3. appends one ELF note to the section `.note.stapsdt` that says where
//!    the 1-byte `nop` is and where each argument is at that instant.
//!
//! ## The note
//!
//! The note is the one `<sys/sdt.h>` emits: owner `"stapsdt"`, type 3
//! (`NT_STAPSDT`), and a descriptor of
//!
//! ```text
//!   .8byte 990b              link-time address of the nop
//!   .8byte _.stapsdt.base    link-time address of the .stapsdt.base section
//!   .8byte SEMAPHORE         address of the probe's semaphore, or 0
//!   .asciz "provider"
//!   .asciz "name"
//!   .asciz "ARGS"            e.g. "8@%rdi -8@%rax 8@%rcx"
//! ```
//!
//! with the name and the descriptor each padded to 4 bytes. The assembler
//! fills in the three addresses as relocations, so they are right after
//! linking whatever the code layout is.
//!
//! The section is opened with `.pushsection .note.stapsdt,"?","note"`, the
//! flags `<sys/sdt.h>` uses:
//!
//! * no `a` flag: the note is not allocated (not loaded into memory). Only
//!   tools read it from the file. An allocated note would also hold absolute
//!   addresses inside loaded memory, which a position-independent executable
//!   can only get through run-time relocations: text relocations, or zeros in
//!   the file with the real value only in the dynamic relocation table, where
//!   no note reader looks.
//! * `?`: when the code around the probe is in a section group (a COMDAT,
//!   e.g. an inline function instantiated in many objects), the note joins
//!   that group, so when the linker drops a duplicate copy of the code it
//!   drops its note too instead of keeping a note pointing at discarded code.
//!
//! ## `--gc-sections` and the anchor
//!
//! rustc links with `--gc-sections`, which removes the code of functions
//! nothing calls, e.g. a `pub fn` of a library that the program does not use.
//! rust-lld (rustc's default linker on x86-64 Linux) keeps non-allocated
//! sections such as the note, but does not let them keep anything alive: the
//! note of a removed function survives with a probe address of 0, which is
//! not in the file at all (and which `ustrace` reports as an error for the
//! whole file). `<sys/sdt.h>` has no answer for this (C is seldom linked with
//! `--gc-sections`; GNU ld happens to treat notes as roots). These macros
//! add, next to each note, a 4-byte PC-relative reference to the `nop` in an
//! allocated section flagged `R` (`SHF_GNU_RETAIN`, "never
//! garbage-collect"; `?` again so that it follows a COMDAT group). Every
//! linker then keeps every function that contains a probe. That costs code
//! size for unused functions with probes and 4 bytes of `.rodata` per probe
//! site, and nothing at run time; in exchange every note in the output
//! points at real code. (A note that is dropped together with its code would
//! be better, but needs `SHF_LINK_ORDER` to a named symbol, and inline asm
//! has no label name that stays unique when the compiler duplicates the
//! block.)
//!
//! ## `.stapsdt.base`
//!
//! Every object with probes also defines, once, the one-byte section
//! `.stapsdt.base` holding the weak, hidden symbol `_.stapsdt.base`, in a
//! COMDAT group of the same name so the linker keeps exactly one. Each note
//! records that symbol's address. If a tool such as prelink later moves the
//! sections, the note (not allocated, so not relocated) keeps the old
//! addresses, and a reader corrects them by the distance `.stapsdt.base`
//! moved. We add the `R` flag to the section as well, for the same reason as
//! the anchor: nothing allocated refers to it, and without `R` rust-lld
//! drops it and the notes record a base of 0.
//!
//! ## Arguments: `SIZE@OPERAND`
//!
//! The argument string has one `SIZE@OPERAND` spec per argument, separated by
//! blanks, where `OPERAND` is an AT&T assembler operand and `SIZE` the size in
//! bytes, negative when the value is signed. `<sys/sdt.h>` gets the operands
//! from gcc's operand substitution; we get them from `asm!`'s: the template
//! text `{s0}@{v0}` with `v0 = in(reg) value` and `options(att_syntax)`
//! becomes, say, `8@%rdi` once the compiler has chosen the register.
//!
//! Every argument is converted to a 64-bit register value by [`ProbeArg`]:
//! signed integers are sign-extended, unsigned integers and `bool` are
//! zero-extended, pointers and references give their address. The spec is
//! therefore always `8@%reg` or `-8@%reg`. The sign is a property of the
//! argument's *type*, which a `macro_rules!` macro cannot see, so each probe
//! site is a small generic function, `#[inline(always)]`, generic over the
//! types of its arguments, and the `SIZE` text is an `asm!` `const` operand
//! computed from [`ProbeArg::SIGNED`]: `-8` or `8`.
//!
//! Registers only: there is no memory or immediate operand, so constants
//! are loaded into a register first, and a probe has at most 12 arguments
//! (as in `<sys/sdt.h>`), which always fit in x86-64's free registers.
//!
//! ## Semaphores
//!
//! Computing arguments can cost more than the `nop`. A *semaphore* is a
//! `u16` counter in the section `.probes` whose address is recorded in the
//! note; a tracer makes it non-zero while it is attached (the kernel does it
//! when the uprobe is created with a `ref_ctr_offset`: it adds one per
//! attached site), and the program tests it before computing the
//! arguments.
//!
//! * [`probe!`] has no semaphore (the note holds 0): its arguments are always
//!   evaluated.
//! * [`probe_guarded!`] uses the semaphore of its provider and name: one per
//!   `provider:name` in the linked binary (or shared library), shared by all
//!   its guarded sites, as `<sys/sdt.h>` has one `provider_name_semaphore`
//!   per probe. It evaluates its arguments, then fires, only when the
//!   semaphore is non-zero. [`enabled!`]`(provider, name)` reads the same
//!   semaphore, for expensive work outside the macro.
//! * `probe_guarded!(semaphore = SEM, ...)` uses instead a [`Semaphore`]
//!   static declared with [`declare_semaphore!`], which sites of different
//!   probes may share and which the program tests with
//!   [`Semaphore::is_enabled`].
//!
//! ### The shared semaphore
//!
//! A `macro_rules!` macro cannot define a Rust static once per
//! `provider:name` across crates: a named static defined at every site
//! clashes at link time, an unnamed one is private to the site. So the
//! semaphore is defined by the assembler instead, like `.stapsdt.base`. Its
//! symbol `SYM` is `__ustrace_usdt_sem.PROVIDER.NAME` (the dots cannot occur
//! in Rust identifiers, so two probes never share a name; the assembly
//! quotes it, so raw and non-ASCII identifiers are valid in it too), and
//! every `asm!` block that uses it (the guarded site's note and every read
//! of it) first emits, unless the object already defines it (`.ifndef`):
//!
//! ```text
//!   .pushsection .probes,"awG","progbits",SYM,comdat
//!   .weak SYM
//!   .hidden SYM
//!   .type SYM, @object
//!   .size SYM, 2
//!   .balign 2
//!   SYM: .2byte 0
//!   .popsection
//! ```
//!
//! a two-byte, writable, allocated counter alone in a COMDAT group named
//! after the symbol. Every object (every codegen unit, every crate) that
//! uses the probe has a copy; the linker keeps exactly one group of each
//! name, so all sites in the output refer to the same two bytes. The symbol
//! is hidden: an executable and each shared library have their own
//! semaphore, which is what a tracer expects (it attaches to one file).
//! Nothing needs the `R` flag here: the code that reads the semaphore keeps
//! it alive under `--gc-sections`.
//!
//! ### `.probes` starts on a page
//!
//! The same lines also define, once per object and in a COMDAT group of its
//! own, an empty `.probes` section aligned to 4096 bytes (flagged `R` so
//! that `--gc-sections` keeps it), and [`declare_semaphore!`] emits it too
//! (with `global_asm!`). It makes the whole output `.probes` section start
//! on a page of its own in the file, which the kernel needs: rust-lld puts
//! the RELRO data (`.data.rel.ro`, `.got`) and `.data` in two writable
//! `PT_LOAD` segments that are adjacent in the file, so the last file page
//! of the first is also the first page of the second, and is mapped twice.
//! When a uprobe with a semaphore is created before the program maps its
//! file (a tracer that starts the program, or traces a path before the
//! program runs), the kernel increments the semaphore when the first
//! writable mapping of that file offset appears; a semaphore on that shared
//! page would be incremented in the RELRO copy (writable until the dynamic
//! loader makes it read-only), not in the one the program reads, and its
//! probe would stay disabled. A `.probes` starting on a page boundary is
//! never on that page. The cost is up to 4 KiB of padding in the file and
//! in memory, once per executable or library that has semaphores.
//!
//! The note's semaphore word is `.8byte SYM`, and the read is one `asm!`
//! block, `movzwl SYM(%rip), %reg`, a RIP-relative load that is correct in
//! position-independent code without any run-time relocation. The block is
//! `volatile` (not `pure`): the compiler reads the counter again every time
//! the probe is reached and never assumes it unchanged, since the kernel
//! writes it from outside the program.
//!
//! ## Cost
//!
//! An untraced [`probe!`] is the register moves for its arguments and the
//! two `nop`s; an untraced [`probe_guarded!`] is one 16-bit load and a
//! branch (the traced side is marked cold with [`core::hint::cold_path`]);
//! [`enabled!`] is the load and a comparison. The probe's asm block is `readonly` (it may read
//! memory but not write it): the compiler must finish writing anything a
//! pointer argument points to before the probe, and it may keep everything
//! else in registers across it. The probe never touches the stack, so a
//! leaf function's data in the red zone below `%rsp` stays intact while it
//! is traced, as long as the tracer attaches at the 1-byte `nop`.
//!
//! # Example
//!
//! ```
//! let request_id: u64 = 42;
//! let status: i32 = -2;
//! let path = c"/index.html";
//! ustrace_usdt::probe!(http, request__done, request_id, status, path.as_ptr());
//!
//! // Evaluates `expensive()` only while a tracer is attached.
//! fn expensive() -> u64 { 7 }
//! ustrace_usdt::probe_guarded!(http, stats, expensive());
//!
//! // The same semaphore, for work that feeds the probe.
//! if ustrace_usdt::enabled!(http, stats) {
//!     let total = expensive() * 2;
//!     ustrace_usdt::probe_guarded!(http, stats, total);
//! }
//! ```
//!
//! # Platforms and limitations
//!
//! * Probes are emitted on x86-64 Linux only. On every other target the
//!   macros still type-check their arguments but compile to nothing, and do
//!   not evaluate them; [`enabled!`] is `false`; [`declare_semaphore!`]
//!   declares an ordinary static that stays 0.
//! * Arguments are integers, `bool`, `char`, pointers or references (see
//!   [`ProbeArg`]); floats and 128-bit integers are not supported. Pass a
//!   string as a pointer to NUL-terminated bytes (`c"..."`, `CStr::as_ptr`).
//! * Every argument takes a register for the instant of the probe, even a
//!   constant; the spec is always 8 bytes wide, whatever the argument's own
//!   size.
//! * `provider` and `name` are Rust identifiers.
//! * A probe's shared semaphore is per linked file: sites of the same probe
//!   in an executable and in a shared library it loads have two semaphores
//!   (a tracer attaching to both files raises both).
//! * A probe keeps its function from being removed as unused (see above).

#![deny(missing_docs)]
#![no_std]

mod args;
mod emit;
mod semaphore;

pub use args::{__size_spec, ProbeArg};
pub use semaphore::Semaphore;

/// Fires a USDT probe `provider:name` with up to 12 arguments.
///
/// ```
/// # let (fd, len, buf) = (3i32, 512usize, [0u8; 4]);
/// ustrace_usdt::probe!(myapp, start);
/// ustrace_usdt::probe!(myapp, read__done, fd, len, buf.as_ptr());
/// ```
///
/// `provider` and `name` are identifiers (by convention a double underscore
/// stands for a dash). Each argument is an expression of a type implementing
/// [`ProbeArg`] (integers, `bool`, `char`, pointers, references); the note
/// records it as `-8@%reg` (signed) or `8@%reg` (unsigned or address).
/// The arguments are evaluated every time, traced or not, in order; use
/// [`probe_guarded!`] when they are expensive.
///
/// The same provider and name may be used at any number of sites; each site
/// (and each copy the compiler makes of it by inlining or unrolling) gets its
/// own note, and tracers attach to all of them. A probe keeps the function
/// that contains it from being removed by `--gc-sections` (see the crate
/// documentation).
///
/// More than 12 arguments, or an argument that is not a [`ProbeArg`] (a
/// float, a `u128`, a struct), is a compile-time error:
///
/// ```compile_fail
/// ustrace_usdt::probe!(myapp, too_many, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
/// ```
///
/// ```compile_fail
/// ustrace_usdt::probe!(myapp, float, 1.5f64);
/// ```
///
/// Off x86-64 Linux, this type-checks the arguments and does nothing else.
#[macro_export]
macro_rules! probe {
    ($provider:ident, $name:ident $(, $arg:expr)* $(,)?) => {
        $crate::__usdt_site!(@start [".8byte 0",] $provider $name [$($arg,)*])
    };
}

/// Fires a USDT probe guarded by a semaphore: the arguments are evaluated,
/// and the probe fires, only while a tracer is attached.
///
/// ```
/// # fn checksum(_: &[u8]) -> u32 { 0 }
/// # let data = [1u8, 2, 3];
/// // The semaphore of `myapp:packet`, shared by all its guarded sites:
/// ustrace_usdt::probe_guarded!(myapp, packet, checksum(&data), data.len());
///
/// // The same semaphore, tested by the program itself:
/// if ustrace_usdt::enabled!(myapp, packet) {
///     let sum = checksum(&data);
///     ustrace_usdt::probe_guarded!(myapp, packet, sum, data.len());
/// }
///
/// // A declared semaphore, which sites of several probes can share:
/// ustrace_usdt::declare_semaphore!(static PACKET_DUMP);
/// if PACKET_DUMP.is_enabled() {
///     let sum = checksum(&data);
///     ustrace_usdt::probe_guarded!(semaphore = PACKET_DUMP, myapp, packet__dump, sum);
///     ustrace_usdt::probe_guarded!(semaphore = PACKET_DUMP, myapp, packet__size, data.len());
/// }
/// ```
///
/// Without `semaphore =`, the semaphore is the one of `provider:name`: one
/// `u16` per probe in the linked executable or shared library, shared by
/// every guarded site of that probe in every function, codegen unit and
/// crate, and read by [`enabled!`]`(provider, name)` (see the crate
/// documentation for how it is defined). A tracer attached to the probe
/// raises it (by one per site it attaches to), so every site fires, and
/// the arguments are evaluated only while it is non-zero; the untraced cost
/// is a 16-bit load and a branch. [`probe!`] sites of the same probe have
/// no semaphore and always evaluate their arguments.
///
/// With `semaphore = PATH`, `PATH` names a static [`Semaphore`], normally
/// declared with [`declare_semaphore!`]; its address is recorded in the note
/// instead.
///
/// Either way, arguments are as for [`probe!`].
///
/// Off x86-64 Linux, this type-checks the arguments and does nothing else.
#[macro_export]
macro_rules! probe_guarded {
    (semaphore = $sem:path, $provider:ident, $name:ident $(, $arg:expr)* $(,)?) => {{
        let __ustrace_usdt_sem: &$crate::Semaphore = &$sem;
        if __ustrace_usdt_sem.is_enabled() {
            ::core::hint::cold_path();
            $crate::__usdt_site!(
                @start [".8byte {__ustrace_usdt_sem}", __ustrace_usdt_sem = sym $sem,]
                $provider $name [$($arg,)*]
            )
        }
    }};
    ($provider:ident, $name:ident $(, $arg:expr)* $(,)?) => {{
        if $crate::enabled!($provider, $name) {
            ::core::hint::cold_path();
            $crate::__usdt_site!(
                @start [$crate::__usdt_semaphore!(@note $provider $name),]
                $provider $name [$($arg,)*]
            )
        }
    }};
}

/// Whether a tracer is attached to the guarded sites of `provider:name`:
/// reads the semaphore that [`probe_guarded!`]`(provider, name, ...)` uses.
///
/// ```
/// # fn summarize(v: &[u64]) -> u64 { v.iter().sum() }
/// # let values = vec![1u64, 2, 3];
/// if ustrace_usdt::enabled!(myapp, batch) {
///     // Expensive preparation, done only while someone traces myapp:batch.
///     let total = summarize(&values);
///     for v in &values {
///         ustrace_usdt::probe_guarded!(myapp, batch, *v, total);
///     }
/// }
/// ```
///
/// The value is an expression of type `bool`, read afresh (one 16-bit
/// load) every time it is evaluated. The semaphore exists as soon as either
/// macro names the probe, so `enabled!` compiles even for a probe whose
/// guarded sites are in another crate; it is `false` until a tracer attaches
/// to a guarded site of the probe, and always `false` for a probe that has
/// only [`probe!`] sites (they have no semaphore) or none at all.
///
/// Off x86-64 Linux, always `false`.
#[macro_export]
macro_rules! enabled {
    ($provider:ident, $name:ident $(,)?) => {
        ($crate::__usdt_semaphore!(@read $provider $name) != 0)
    };
}

/// Declares a static [`Semaphore`] in the `.probes` section, for
/// `probe_guarded!(semaphore = NAME, ...)`.
///
/// ```
/// ustrace_usdt::declare_semaphore!(
///     /// Set while someone traces `myapp:query`.
///     pub static QUERY
/// );
/// assert!(!QUERY.is_enabled());
/// ```
///
/// Attributes (including doc comments) and a visibility may precede
/// `static`. Several probe sites, even of different probes, may share one
/// semaphore; it is then enabled while any of them is traced. The macro
/// also makes `.probes` start on a page (see the crate documentation); a
/// [`Semaphore`] put in `.probes` by hand instead of with this macro may
/// miss that, and not be raised in programs started under a tracer.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[macro_export]
macro_rules! declare_semaphore {
    ($(#[$attr:meta])* $vis:vis static $sem:ident $(;)?) => {
        $(#[$attr])*
        #[unsafe(link_section = ".probes")]
        $vis static $sem: $crate::Semaphore = $crate::Semaphore::new();
        // `.probes` starts on a page. (`global_asm!` is an item, not a
        // statement: a module in its own block keeps the macro usable in a
        // function body, any number of times.)
        const _: () = {
            mod __ustrace_usdt_page {
                ::core::arch::global_asm!($crate::__usdt_semaphore!(@page), options(att_syntax));
            }
        };
    };
}

/// Declares a static [`Semaphore`] in the `.probes` section, for
/// `probe_guarded!(semaphore = NAME, ...)` (on this target, an ordinary
/// static that stays 0).
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[macro_export]
macro_rules! declare_semaphore {
    ($(#[$attr:meta])* $vis:vis static $sem:ident $(;)?) => {
        $(#[$attr])*
        $vis static $sem: $crate::Semaphore = $crate::Semaphore::new();
    };
}
