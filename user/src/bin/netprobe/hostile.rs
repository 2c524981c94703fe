//! Hostile and wrong arguments to every network call: each must come back
//! with its documented error code (and, for refused binds, an
//! explanation), never crash the kernel, and leave nothing bound.

use exo_abi::layout::{IMAGE_BASE, KERNEL_INFO};
use exo_abi::net::{
    BindRequest, MAX_FUEL, MAX_MESSAGE, MAX_OBJECT, MAX_PAGES, NetCall, RegionPages,
};
use exo_abi::syscall::{NET_FIRST, NET_LAST};
use exo_abi::{EnvId, Error};
use exo_user::libos_core::export as core_export;
use exo_user::libos_core::rng::Rng;
use exo_user::{Start, println};
use libos_net::api::{self, Bind, BindingId};

use crate::check::{Check, ok, refused, that};
use crate::objects;
use crate::pages;

fn bind_err(b: &Bind<'_>) -> (Result<u32, Error>, [u8; 256]) {
    let mut msg = [0u8; 256];
    let r = api::bind(b, &mut msg).map(|id| id.0).map_err(|r| r.error);
    (r, msg)
}

fn text(msg: &[u8]) -> &str {
    let n = msg.iter().position(|&c| c == 0).unwrap_or(msg.len());
    core::str::from_utf8(&msg[..n]).unwrap_or("")
}

/// `want` with a message containing `needle`.
fn refused_saying(
    n: Check,
    what: &str,
    b: &Bind<'_>,
    want: Error,
    needle: &str,
) -> Result<(), Check> {
    let (r, msg) = bind_err(b);
    refused(n, what, r, want)?;
    that(
        n,
        "the kernel explains the refusal",
        text(&msg).contains(needle),
    )
}

fn raw(nr: u64, a: [u64; 6]) -> Result<u64, Error> {
    // SAFETY: every pointer these checks pass is null, in the kernel half,
    // unmapped, read-only, or a buffer of this function's caller that no
    // reference points into while the kernel may write it.
    unsafe { api::raw(nr, a) }
}

pub fn run(start: Start) -> Result<(), Check> {
    let size = core::mem::size_of::<BindRequest>() as u64;
    let bind_nr = NetCall::Bind.nr();
    refused(
        1,
        "request at 0",
        raw(bind_nr, [0, size, 0, 0, 0, 0]),
        Error::BadAddress,
    )?;
    let req = BindRequest::default();
    let p = &req as *const BindRequest as u64;
    refused(
        2,
        "wrong request size",
        raw(bind_nr, [p, size - 1, 0, 0, 0, 0]),
        Error::InvalidArgument,
    )?;
    refused(
        3,
        "request in the kernel half",
        raw(bind_nr, [0xFFFF_8000_0000_0000, size, 0, 0, 0, 0]),
        Error::BadAddress,
    )?;

    let region = ok(4, "region page", pages::alloc(1))?;
    let ring = ok(5, "ring pages", pages::alloc(pages::RING_PAGES as usize))?;
    let good = [RegionPages {
        vaddr: region,
        pages: 1,
    }];
    let echo = Bind {
        object: objects::UDP_ECHO,
        name: "hostile",
        ring: None,
        regions: &good,
        default: false,
        fuel: 0,
    };

    refused_saying(
        6,
        "garbage object",
        &Bind {
            object: b"definitely not an object",
            ..echo
        },
        Error::BadObject,
        "object",
    )?;
    refused_saying(
        7,
        "unverifiable handler",
        &Bind {
            object: objects::BAD_VERIFY,
            regions: &[],
            ..echo
        },
        Error::VerifierRejected,
        "insn",
    )?;
    refused_saying(
        8,
        "invalid WebAssembly",
        &Bind {
            object: objects::WASM_GARBAGE,
            regions: &[],
            ..echo
        },
        Error::BadHandler,
        "invalid",
    )?;
    refused_saying(
        9,
        "no `handle` export",
        &Bind {
            object: objects::WASM_NO_ENTRY,
            regions: &[],
            ..echo
        },
        Error::BadHandler,
        "handle",
    )?;
    refused_saying(
        10,
        "a region smaller than declared",
        &Bind {
            object: objects::BIG_REGION,
            ..echo
        },
        Error::RegionTooSmall,
        "8192",
    )?;
    refused_saying(
        11,
        "no region for a declared one",
        &Bind {
            regions: &[],
            ..echo
        },
        Error::RegionTooSmall,
        "region",
    )?;
    let bad = |vaddr, pages| [RegionPages { vaddr, pages }];
    refused(
        12,
        "region unmapped",
        bind_err(&Bind {
            regions: &bad(0x7000_0000_0000 - 0x40_0000_0000, 1),
            ..echo
        })
        .0,
        Error::NotMapped,
    )?;
    refused(
        13,
        "region unaligned",
        bind_err(&Bind {
            regions: &bad(region + 8, 1),
            ..echo
        })
        .0,
        Error::NotAligned,
    )?;
    refused(
        14,
        "region in the export area",
        bind_err(&Bind {
            regions: &bad(KERNEL_INFO, 1),
            ..echo
        })
        .0,
        Error::ReservedAddress,
    )?;
    refused(
        15,
        "region over read-only code",
        bind_err(&Bind {
            regions: &bad(IMAGE_BASE, 1),
            ..echo
        })
        .0,
        Error::NoCapability,
    )?;
    refused(
        16,
        "region of 0 pages",
        bind_err(&Bind {
            regions: &bad(region, 0),
            ..echo
        })
        .0,
        Error::InvalidArgument,
    )?;
    let ring_only = Bind {
        object: objects::RING_DONE,
        regions: &[],
        ..echo
    };
    refused(
        17,
        "ring of one page",
        bind_err(&Bind {
            ring: Some((ring, 1)),
            ..ring_only
        })
        .0,
        Error::RingTooSmall,
    )?;
    refused(
        18,
        "ring unmapped",
        bind_err(&Bind {
            ring: Some((0x10_0000_0000, 4)),
            ..ring_only
        })
        .0,
        Error::NotMapped,
    )?;
    refused(
        19,
        "ring too long",
        bind_err(&Bind {
            ring: Some((ring, MAX_PAGES + 1)),
            ..ring_only
        })
        .0,
        Error::InvalidArgument,
    )?;
    refused(
        20,
        "ring over read-only code",
        bind_err(&Bind {
            ring: Some((IMAGE_BASE, 2)),
            ..ring_only
        })
        .0,
        Error::NoCapability,
    )?;
    refused(
        21,
        "fuel for a BPF handler",
        bind_err(&Bind { fuel: 5, ..echo }).0,
        Error::InvalidArgument,
    )?;
    refused(
        22,
        "fuel above the maximum",
        bind_err(&Bind {
            object: objects::WASM_ECHO,
            regions: &[],
            fuel: MAX_FUEL + 1,
            ..echo
        })
        .0,
        Error::InvalidArgument,
    )?;
    refused(
        23,
        "name too long",
        bind_err(&Bind {
            name: "a name far longer than allowed",
            ..echo
        })
        .0,
        Error::TooLong,
    )?;
    refused(
        24,
        "no object and not the default",
        bind_err(&Bind {
            object: &[],
            ..ring_only
        })
        .0,
        Error::BadObject,
    )?;
    refused(
        25,
        "default receiver without a ring",
        bind_err(&Bind {
            object: &[],
            default: true,
            ..ring_only
        })
        .0,
        Error::InvalidArgument,
    )?;
    // Raw requests: flags, message and object lengths.
    let mut msg = [0u8; 64];
    let mut r = api::request(&ring_only, &mut msg);
    r.flags = 1 << 7;
    // SAFETY: the request's buffers are live borrows; the message goes to `msg`.
    refused(
        26,
        "unknown flags",
        unsafe { api::bind_raw(&r) }.map(|b| b.0),
        Error::InvalidArgument,
    )?;
    let mut r = api::request(&ring_only, &mut msg);
    r.message_len = MAX_MESSAGE + 1;
    // SAFETY: as above (the kernel refuses before writing).
    refused(
        27,
        "message buffer too long",
        unsafe { api::bind_raw(&r) }.map(|b| b.0),
        Error::TooLong,
    )?;
    let mut r = api::request(&ring_only, &mut msg);
    r.object_len = MAX_OBJECT + 1;
    // SAFETY: as above.
    refused(
        28,
        "object too long",
        unsafe { api::bind_raw(&r) }.map(|b| b.0),
        Error::TooLong,
    )?;

    // Unbind and grant.
    refused(
        29,
        "unbind of no binding",
        api::unbind(BindingId(4000)),
        Error::NoSuchBinding,
    )?;
    refused(
        30,
        "unbind of a huge id",
        raw(NetCall::Unbind.nr(), [u64::MAX, 0, 0, 0, 0, 0]),
        Error::NoSuchBinding,
    )?;
    refused(
        31,
        "grant on no binding",
        api::grant(BindingId(4000), start.parent),
        Error::NoSuchBinding,
    )?;
    let mut m = [0u8; 256];
    let mine = api::bind(
        &Bind {
            ring: Some((ring, pages::RING_PAGES)),
            ..ring_only
        },
        &mut m,
    )
    .map_err(|r| {
        println!(
            "netprobe: check 32: a good ring binding was refused: {:?}: {}",
            r.error, r.message
        );
        32u64
    })?;
    refused(
        33,
        "grant to itself",
        api::grant(mine, start.id),
        Error::InvalidArgument,
    )?;
    refused(
        34,
        "grant to nobody",
        api::grant(mine, EnvId(0)),
        Error::NoSuchEnv,
    )?;
    refused(
        35,
        "grant to a dead id",
        api::grant(mine, EnvId(0xFFFF_FF3F)),
        Error::NoSuchEnv,
    )?;

    // Transmit.
    let t = NetCall::Transmit.nr();
    refused(
        36,
        "transmit from address 0",
        raw(t, [0, 60, 0, 0, 0, 0]),
        Error::BadAddress,
    )?;
    let frame = [0u8; 1600];
    refused(
        37,
        "transmit of 13 bytes",
        api::transmit(&frame[..13]),
        Error::InvalidArgument,
    )?;
    refused(
        38,
        "transmit of 1515 bytes",
        api::transmit(&frame[..1515]),
        Error::TooLong,
    )?;
    refused(
        39,
        "transmit of a frame never bound",
        api::transmit(&frame[..60]),
        Error::SourceNotBound,
    )?;

    // Filters.
    let mut out = [0u8; 512];
    refused(
        40,
        "filters of no binding",
        api::filters(BindingId(4000), &mut out),
        Error::NoSuchBinding,
    )?;
    refused(
        41,
        "filters into one byte",
        api::filters(mine, &mut out[..1]),
        Error::TooLong,
    )?;
    refused(
        42,
        "filters to address 0",
        raw(NetCall::Filters.nr(), [u64::from(mine.0), 0, 512, 0, 0, 0]),
        Error::BadAddress,
    )?;
    let n = ok(
        43,
        "filters of its own binding",
        api::filters(mine, &mut out),
    )?;
    let first = usize::from(u16::from_le_bytes([out[0], out[1]]));
    that(
        44,
        "length-prefixed wire filters",
        n >= 2 + first && first > 0,
    )?;

    // Numbers of the group nobody defined.
    for nr in NET_FIRST..=NET_LAST {
        if NetCall::from_u64(nr).is_none() {
            refused(
                45,
                "undefined network call",
                raw(nr, [1, 2, 3, 4, 5, 6]),
                Error::UnknownSyscall,
            )?;
        }
    }

    // A randomized pass: every result is success or a known code.
    let mut rng = Rng::new(core_export::now_ns() | 1);
    let scratch = ok(46, "scratch page", pages::alloc(1))?;
    for _ in 0..400 {
        let nr = NET_FIRST + rng.below(6);
        let mut a = [0u64; 6];
        for w in a.iter_mut() {
            *w = match rng.below(6) {
                0 => 0,
                1 => u64::MAX,
                2 => rng.next_u64(),
                3 => rng.below(4096),
                4 => scratch + rng.below(4096),
                _ => 0xFFFF_8000_0000_0000 + rng.below(1 << 30),
            };
        }
        if nr == NetCall::Unbind.nr() && a[0] == u64::from(mine.0) {
            continue;
        }
        match raw(nr, a) {
            Ok(_) => {}
            Err(e) => that(
                47,
                "a known error code",
                Error::from_code(e.code()) == Some(e),
            )?,
        }
    }
    ok(48, "unbinding", api::unbind(mine))?;
    refused(
        49,
        "unbinding twice",
        api::unbind(mine),
        Error::NoSuchBinding,
    )?;
    // Filter programs cost every unclaimed frame a run each: an owner may
    // have a bounded number of them.
    let program = Bind {
        object: objects::PROGRAM_RING,
        name: "program",
        ring: None,
        regions: &[],
        default: false,
        fuel: 0,
    };
    let mut programs = [BindingId(0); exo_abi::net::MAX_FILTER_PROGRAMS as usize];
    for p in programs.iter_mut() {
        *p = api::bind(&program, &mut [0u8; 256]).map_err(|r| {
            println!(
                "netprobe: check 50: a filter-program binding was refused: {:?}: {}",
                r.error, r.message
            );
            50u64
        })?;
    }
    refused_saying(
        51,
        "one filter-program binding too many",
        &program,
        Error::TooManyBindings,
        "filter-program",
    )?;
    for p in programs {
        ok(52, "unbinding a filter program", api::unbind(p))?;
    }
    println!("netprobe: HOSTILE all refused as documented");
    Ok(())
}
