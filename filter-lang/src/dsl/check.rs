//! Name resolution and type checking: the syntax tree to [`hir`].
//!
//! Types are integers (unsigned 64-bit), booleans and, for helper calls
//! that return nothing, unit. There are no implicit conversions: a
//! condition must be a boolean (`x != 0`, not `x`), arithmetic takes
//! integers. Constant sub-expressions are folded with the same checked
//! arithmetic the program runs (overflow is an error, not a wrap).

use super::ast::{self, BinOp, CmpOp, ExprKind, Item, RegionType, Stmt, Verdict};
use super::error::{Error, ErrorKind, Span};
use super::hir::{self, Call, Mem, Place, RegionInfo, VarId};
use super::layers::{self, Layer};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Most regions a handler may declare.
pub const MAX_REGIONS: u32 = 32;
/// Most counters a handler may declare.
pub const MAX_COUNTERS: u32 = 1024;
/// Largest region in bytes.
pub const MAX_REGION_BYTES: u64 = 1 << 24;
/// Most iterations of a `for` loop.
pub const MAX_LOOP: u64 = 4096;

/// A checked source file.
#[derive(Clone, Debug)]
pub struct Checked {
    /// pcap-filter expressions and the span of their text.
    pub filters: Vec<(String, Span)>,
    /// Region names, in id order, with their layout.
    pub regions: Vec<(String, RegionInfo)>,
    /// Counter names, in index order.
    pub counters: Vec<String>,
    pub handler: Option<hir::Handler>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Int,
    Bool,
    Unit,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Int => "an integer",
            Ty::Bool => "a boolean",
            Ty::Unit => "a call that returns nothing",
        }
    }
}

struct Var {
    name: String,
    id: VarId,
    ty: Ty,
    is_loop: bool,
}

struct Checker {
    regions: Vec<(String, RegionInfo)>,
    counters: Vec<String>,
    consts: Vec<(String, u64)>,
    scopes: Vec<Vec<Var>>,
    /// Static range of each variable that is never reassigned.
    ranges: Vec<Option<(u64, u64)>>,
    /// Names assigned anywhere in the handler (their ranges are unknown).
    reassigned: BTreeSet<String>,
    loops: usize,
}

type R<T> = Result<T, Error>;

fn err<T>(kind: ErrorKind, span: Span) -> R<T> {
    Err(Error::new(kind, span))
}

fn mk(kind: hir::ExprKind, span: Span) -> hir::Expr {
    hir::Expr { kind, span }
}

/// Checks a parsed file.
pub fn check(items: &[Item]) -> Result<Checked, Error> {
    let mut c = Checker {
        regions: Vec::new(),
        counters: Vec::new(),
        consts: Vec::new(),
        scopes: Vec::new(),
        ranges: Vec::new(),
        reassigned: BTreeSet::new(),
        loops: 0,
    };
    let mut filters = Vec::new();
    let mut fallback: Option<Verdict> = None;
    let mut handler: Option<(&ast::Block, Span)> = None;
    for item in items {
        match item {
            Item::Filter { text, text_span } => filters.push((text.clone(), *text_span)),
            Item::Region {
                name,
                ty,
                len,
                len_span,
                writable,
            } => {
                c.declare_global(name, "region")?;
                let elem = match ty {
                    RegionType::Bytes => 1,
                    RegionType::Array { elem } => *elem,
                };
                let bytes = len.checked_mul(elem as u64).unwrap_or(u64::MAX);
                if *len == 0 || bytes > MAX_REGION_BYTES {
                    return err(ErrorKind::BadRegionSize { len: bytes }, *len_span);
                }
                if c.regions.len() as u32 >= MAX_REGIONS {
                    return err(
                        ErrorKind::TooMany {
                            what: "regions",
                            max: MAX_REGIONS,
                        },
                        name.span,
                    );
                }
                c.regions.push((
                    name.name.clone(),
                    RegionInfo {
                        size: bytes as u32,
                        elem,
                        writable: *writable,
                    },
                ));
            }
            Item::Counter(names) => {
                for n in names {
                    c.declare_global(n, "counter")?;
                    if c.counters.len() as u32 >= MAX_COUNTERS {
                        return err(
                            ErrorKind::TooMany {
                                what: "counters",
                                max: MAX_COUNTERS,
                            },
                            n.span,
                        );
                    }
                    c.counters.push(n.name.clone());
                }
            }
            Item::Const { name, value } => {
                c.declare_global(name, "constant")?;
                let (e, ty) = c.expr(value)?;
                match (e.kind, ty) {
                    (hir::ExprKind::Const(v), Ty::Int) => c.consts.push((name.name.clone(), v)),
                    _ => {
                        return err(
                            ErrorKind::Type {
                                expected: "a constant integer",
                                found: "a value known only at run time",
                            },
                            value.span,
                        );
                    }
                }
            }
            Item::Fallback { verdict, span } => {
                if fallback.is_some() {
                    return err(
                        ErrorKind::Duplicate {
                            what: "item",
                            name: "fallback".to_string(),
                        },
                        *span,
                    );
                }
                fallback = Some(*verdict);
            }
            Item::Handler { body, span } => {
                if handler.is_some() {
                    return err(
                        ErrorKind::Duplicate {
                            what: "item",
                            name: "handler".to_string(),
                        },
                        *span,
                    );
                }
                handler = Some((body, *span));
            }
        }
    }
    let handler = match handler {
        Some((body, span)) => {
            collect_assigned(&body.stmts, &mut c.reassigned);
            c.scopes.push(Vec::new());
            let stmts = c.block(&body.stmts)?;
            if !always_returns(&stmts) {
                let end = Span::new(body.span.end.saturating_sub(1), body.span.end);
                return err(ErrorKind::MissingReturn, end);
            }
            Some(hir::Handler {
                body: stmts,
                span,
                regions: c.regions.iter().map(|(_, r)| *r).collect(),
                counters: c.counters.len() as u32,
                vars: c.ranges.len() as u32,
                fallback: fallback.unwrap_or(Verdict::Deliver).code(),
            })
        }
        None => None,
    };
    Ok(Checked {
        filters,
        regions: c.regions,
        counters: c.counters,
        handler,
    })
}

fn collect_assigned(stmts: &[Stmt], out: &mut BTreeSet<String>) {
    for s in stmts {
        match s {
            Stmt::Assign { target, .. } => {
                if let ExprKind::Name(n) = &target.kind {
                    out.insert(n.clone());
                }
            }
            Stmt::If { then, els, .. } => {
                collect_assigned(&then.stmts, out);
                if let Some(e) = els {
                    collect_assigned(&e.stmts, out);
                }
            }
            Stmt::For { body, .. } => collect_assigned(&body.stmts, out),
            _ => {}
        }
    }
}

/// Whether every path through `stmts` ends in `return`.
fn always_returns(stmts: &[hir::Stmt]) -> bool {
    match stmts.last() {
        Some(hir::Stmt::Return(..)) => true,
        Some(hir::Stmt::If(_, t, e)) => always_returns(t) && always_returns(e),
        _ => false,
    }
}

/// A chain of names `a.b.c`, if `e` is one.
fn path(e: &ast::Expr) -> Option<Vec<(&str, Span)>> {
    match &e.kind {
        ExprKind::Name(n) => Some(alloc::vec![(n.as_str(), e.span)]),
        ExprKind::Field(base, f) => {
            let mut p = path(base)?;
            p.push((f.name.as_str(), f.span));
            Some(p)
        }
        _ => None,
    }
}

/// What a name path denotes as a place to read bytes from.
enum View {
    /// `pkt` or a bytes region: from the frame start.
    Start(Mem),
    /// A protocol (or payload) in the packet or a bytes region.
    Layer(Mem, Layer),
    /// An array region.
    Array(u32, u8),
}

impl Checker {
    fn declare_global(&self, name: &ast::Ident, what: &'static str) -> R<()> {
        if layers::is_reserved(&name.name) {
            return err(ErrorKind::Reserved(name.name.clone()), name.span);
        }
        let taken = self.regions.iter().any(|(n, _)| *n == name.name)
            || self.counters.contains(&name.name)
            || self.consts.iter().any(|(n, _)| *n == name.name);
        if taken {
            return err(
                ErrorKind::Duplicate {
                    what,
                    name: name.name.clone(),
                },
                name.span,
            );
        }
        Ok(())
    }

    fn region(&self, name: &str) -> Option<(u32, RegionInfo)> {
        self.regions
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (i as u32, self.regions[i].1))
    }

    fn var(&self, name: &str) -> Option<&Var> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter())
            .find(|v| v.name == name)
    }

    fn declare_var(&mut self, name: &ast::Ident, ty: Ty, is_loop: bool) -> R<VarId> {
        if layers::is_reserved(&name.name) {
            return err(ErrorKind::Reserved(name.name.clone()), name.span);
        }
        let global = self.region(&name.name).is_some()
            || self.counters.contains(&name.name)
            || self.consts.iter().any(|(n, _)| *n == name.name);
        let here = self
            .scopes
            .last()
            .is_some_and(|s| s.iter().any(|v| v.name == name.name));
        if global || here {
            return err(
                ErrorKind::Duplicate {
                    what: if global { "name" } else { "variable" },
                    name: name.name.clone(),
                },
                name.span,
            );
        }
        let id = self.ranges.len() as VarId;
        self.ranges.push(None);
        self.scopes.last_mut().expect("a scope is open").push(Var {
            name: name.name.clone(),
            id,
            ty,
            is_loop,
        });
        Ok(id)
    }

    fn block(&mut self, stmts: &[Stmt]) -> R<Vec<hir::Stmt>> {
        let mut out = Vec::new();
        let mut ended = false;
        for s in stmts {
            if ended {
                return err(ErrorKind::Unreachable, s.span());
            }
            let h = self.stmt(s)?;
            ended = matches!(
                h,
                hir::Stmt::Return(..) | hir::Stmt::Break(_) | hir::Stmt::Continue(_)
            ) || matches!(&h, hir::Stmt::If(_, t, e) if always_returns(t) && always_returns(e));
            out.push(h);
        }
        Ok(out)
    }

    fn scoped(&mut self, stmts: &[Stmt]) -> R<Vec<hir::Stmt>> {
        self.scopes.push(Vec::new());
        let r = self.block(stmts);
        self.scopes.pop();
        r
    }

    fn stmt(&mut self, s: &Stmt) -> R<hir::Stmt> {
        match s {
            Stmt::Let { name, value } => {
                let (e, ty) = self.expr(value)?;
                if ty == Ty::Unit {
                    return err(
                        ErrorKind::Type {
                            expected: "a value",
                            found: ty.name(),
                        },
                        value.span,
                    );
                }
                let range = if self.reassigned.contains(&name.name) {
                    None
                } else {
                    self.range(&e)
                };
                let id = self.declare_var(name, ty, false)?;
                self.ranges[id as usize] = range;
                Ok(hir::Stmt::Let(id, e))
            }
            Stmt::Assign {
                target,
                op,
                value,
                span,
            } => self.assign(target, *op, value, *span),
            Stmt::If {
                cond, then, els, ..
            } => {
                let c = self.cond(cond)?;
                let t = self.scoped(&then.stmts)?;
                let e = match els {
                    Some(b) => self.scoped(&b.stmts)?,
                    None => Vec::new(),
                };
                Ok(hir::Stmt::If(c, t, e))
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                span,
            } => {
                let s = self.const_int(start)?;
                let e = self.const_int(end)?;
                let n = e.saturating_sub(s);
                if n > MAX_LOOP {
                    return err(
                        ErrorKind::LoopTooLong {
                            iterations: n,
                            max: MAX_LOOP,
                        },
                        start.span.to(end.span),
                    );
                }
                self.scopes.push(Vec::new());
                let id = self.declare_var(var, Ty::Int, true);
                let id = match id {
                    Ok(id) => id,
                    Err(e) => {
                        self.scopes.pop();
                        return Err(e);
                    }
                };
                self.ranges[id as usize] = (n > 0).then(|| (s, e - 1));
                self.loops += 1;
                let b = self.scoped(&body.stmts);
                self.loops -= 1;
                self.scopes.pop();
                Ok(hir::Stmt::For {
                    var: id,
                    start: s,
                    end: e.max(s),
                    body: b?,
                    span: *span,
                })
            }
            Stmt::Break(span) | Stmt::Continue(span) => {
                let what = if matches!(s, Stmt::Break(_)) {
                    "break"
                } else {
                    "continue"
                };
                if self.loops == 0 {
                    return err(ErrorKind::OutsideLoop(what), *span);
                }
                Ok(if what == "break" {
                    hir::Stmt::Break(*span)
                } else {
                    hir::Stmt::Continue(*span)
                })
            }
            Stmt::Return(v, span) => Ok(hir::Stmt::Return(v.code(), *span)),
            Stmt::Expr(e) => {
                let (h, _) = self.expr(e)?;
                if !matches!(h.kind, hir::ExprKind::Call(_)) {
                    return err(
                        ErrorKind::Type {
                            expected: "a statement (an assignment or a call)",
                            found: "a value that is not used",
                        },
                        e.span,
                    );
                }
                Ok(hir::Stmt::Eval(h))
            }
        }
    }

    fn const_int(&mut self, e: &ast::Expr) -> R<u64> {
        match self.expr(e)? {
            (
                hir::Expr {
                    kind: hir::ExprKind::Const(v),
                    ..
                },
                Ty::Int,
            ) => Ok(v),
            _ => err(ErrorKind::LoopBound, e.span),
        }
    }

    fn assign(
        &mut self,
        target: &ast::Expr,
        op: Option<BinOp>,
        value: &ast::Expr,
        span: Span,
    ) -> R<hir::Stmt> {
        let (v, vty) = self.expr(value)?;
        let place = match &target.kind {
            ExprKind::Name(n) => {
                let Some(var) = self.var(n) else {
                    return if self.consts.iter().any(|(c, _)| c == n)
                        || layers::constant(n).is_some()
                    {
                        err(ErrorKind::NotAssignable("a constant"), target.span)
                    } else {
                        err(ErrorKind::UnknownName(n.clone()), target.span)
                    };
                };
                if var.is_loop {
                    return err(ErrorKind::LoopVariable(n.clone()), target.span);
                }
                let want = if op.is_some() { Ty::Int } else { var.ty };
                if vty != want || (op.is_some() && var.ty != Ty::Int) {
                    return err(
                        ErrorKind::Type {
                            expected: want.name(),
                            found: vty.name(),
                        },
                        value.span,
                    );
                }
                Place::Var(var.id)
            }
            _ => {
                if vty != Ty::Int {
                    return err(
                        ErrorKind::Type {
                            expected: "an integer",
                            found: vty.name(),
                        },
                        value.span,
                    );
                }
                let (place, max) = self.store_place(target)?;
                if let hir::ExprKind::Const(c) = v.kind
                    && op.is_none()
                    && c > max
                {
                    return err(
                        ErrorKind::OutOfRange {
                            what: "value",
                            value: c,
                            max,
                        },
                        value.span,
                    );
                }
                place
            }
        };
        Ok(hir::Stmt::Assign {
            place,
            op,
            value: v,
            span,
        })
    }

    /// A place in a region, and the largest value it holds.
    fn store_place(&mut self, target: &ast::Expr) -> R<(Place, u64)> {
        let writable = |c: &Checker, id: u32, span: Span| -> R<()> {
            if c.regions[id as usize].1.writable {
                Ok(())
            } else {
                err(
                    ErrorKind::ReadOnlyRegion(c.regions[id as usize].0.clone()),
                    span,
                )
            }
        };
        let packet = || {
            err(
                ErrorKind::NotAssignable(
                    "the packet (it is read-only: build replies in a writable region)",
                ),
                target.span,
            )
        };
        match &target.kind {
            ExprKind::Field(..) => {
                let (e, _) = self.expr(target)?;
                match e.kind {
                    hir::ExprKind::Field {
                        mem: Mem::Region(region),
                        layer,
                        field,
                    } => {
                        writable(self, region, target.span)?;
                        Ok((
                            Place::Field {
                                region,
                                layer,
                                field,
                            },
                            field.max(),
                        ))
                    }
                    hir::ExprKind::Field {
                        mem: Mem::Packet, ..
                    } => packet(),
                    _ => err(ErrorKind::NotAssignable("this value"), target.span),
                }
            }
            ExprKind::Index { .. } => {
                let (e, _) = self.expr(target)?;
                match e.kind {
                    hir::ExprKind::Raw {
                        mem: Mem::Region(region),
                        layer,
                        off,
                        size,
                    } => {
                        writable(self, region, target.span)?;
                        Ok((
                            Place::Raw {
                                region,
                                layer,
                                off: *off,
                                size,
                            },
                            max_of(size),
                        ))
                    }
                    hir::ExprKind::Elem {
                        region,
                        elem,
                        index,
                    } => {
                        writable(self, region, target.span)?;
                        Ok((
                            Place::Elem {
                                region,
                                elem,
                                index: *index,
                            },
                            max_of(elem),
                        ))
                    }
                    _ => packet(),
                }
            }
            _ => err(ErrorKind::NotAssignable("this expression"), target.span),
        }
    }

    fn cond(&mut self, e: &ast::Expr) -> R<hir::Expr> {
        let (h, ty) = self.expr(e)?;
        if ty != Ty::Bool {
            return err(
                ErrorKind::Type {
                    expected: "a condition",
                    found: ty.name(),
                },
                e.span,
            );
        }
        Ok(h)
    }

    fn int(&mut self, e: &ast::Expr) -> R<hir::Expr> {
        let (h, ty) = self.expr(e)?;
        if ty != Ty::Int {
            return err(
                ErrorKind::Type {
                    expected: "an integer",
                    found: ty.name(),
                },
                e.span,
            );
        }
        Ok(h)
    }

    /// Resolves a name path used as a byte view.
    fn view(&self, p: &[(&str, Span)]) -> R<View> {
        let (first, span0) = p[0];
        let (mem, rest) = if first == "pkt" {
            (Mem::Packet, &p[1..])
        } else if let Some((id, r)) = self.region(first) {
            if r.elem != 1 {
                if p.len() > 1 {
                    return err(
                        ErrorKind::RegionKind {
                            name: first.to_string(),
                            expected: "a bytes region (only bytes regions have protocol fields)",
                        },
                        p[1].1,
                    );
                }
                return Ok(View::Array(id, r.elem));
            }
            (Mem::Region(id), &p[1..])
        } else if Layer::from_name(first).is_some() {
            (Mem::Packet, p)
        } else if self.var(first).is_some() || self.counters.iter().any(|c| c == first) {
            return err(
                ErrorKind::Type {
                    expected: "a protocol, `pkt` or a region",
                    found: "a variable or counter",
                },
                span0,
            );
        } else {
            return err(ErrorKind::UnknownName(first.to_string()), span0);
        };
        match rest {
            [] => Ok(View::Start(mem)),
            [(l, span)] => match Layer::from_name(l) {
                Some(layer) => Ok(View::Layer(mem, layer)),
                None => err(ErrorKind::UnknownLayer(l.to_string()), *span),
            },
            [(l, span), ("payload", pspan)] => match Layer::from_name(l) {
                Some(layer) => match layer.payload() {
                    Some(pl) => Ok(View::Layer(mem, pl)),
                    None => err(
                        ErrorKind::UnknownField {
                            layer: layer.name(),
                            field: "payload".to_string(),
                        },
                        *pspan,
                    ),
                },
                None => err(ErrorKind::UnknownLayer(l.to_string()), *span),
            },
            [_, _, (x, span), ..] | [_, (x, span), ..] => {
                err(ErrorKind::UnknownLayer(x.to_string()), *span)
            }
        }
    }

    fn expr(&mut self, e: &ast::Expr) -> R<(hir::Expr, Ty)> {
        let span = e.span;
        match &e.kind {
            ExprKind::Num(n) => Ok((mk(hir::ExprKind::Const(*n), span), Ty::Int)),
            ExprKind::Bool(b) => Ok((mk(hir::ExprKind::Const(*b as u64), span), Ty::Bool)),
            ExprKind::Name(n) => self.name(n, span),
            ExprKind::Field(..) => self.field(e),
            ExprKind::Index { base, index, size } => self.index(base, index, *size, span),
            ExprKind::Call(f, args) => self.call(f, args, span),
            ExprKind::Not(a) => {
                let a = self.cond(a)?;
                if let hir::ExprKind::Const(v) = a.kind {
                    return Ok((mk(hir::ExprKind::Const(v ^ 1), span), Ty::Bool));
                }
                Ok((mk(hir::ExprKind::Not(Box::new(a)), span), Ty::Bool))
            }
            ExprKind::AndAlso(a, b) | ExprKind::OrElse(a, b) => {
                let and = matches!(e.kind, ExprKind::AndAlso(..));
                let a = self.cond(a)?;
                let b = self.cond(b)?;
                if let (hir::ExprKind::Const(x), hir::ExprKind::Const(y)) = (&a.kind, &b.kind) {
                    let v = if and { x & y } else { x | y };
                    return Ok((mk(hir::ExprKind::Const(v), span), Ty::Bool));
                }
                let k = if and {
                    hir::ExprKind::And(Box::new(a), Box::new(b))
                } else {
                    hir::ExprKind::Or(Box::new(a), Box::new(b))
                };
                Ok((mk(k, span), Ty::Bool))
            }
            ExprKind::Cmp(op, a, b) => {
                let (ha, ta) = self.expr(a)?;
                let (hb, tb) = self.expr(b)?;
                let ok = match op {
                    CmpOp::Eq | CmpOp::Ne => ta == tb && ta != Ty::Unit,
                    _ => ta == Ty::Int && tb == Ty::Int,
                };
                if !ok {
                    let (bad, span) = if ta != Ty::Int {
                        (ta, a.span)
                    } else {
                        (tb, b.span)
                    };
                    return err(
                        ErrorKind::Type {
                            expected: if ta == Ty::Bool && tb == Ty::Bool {
                                "integers (booleans compare only with == and !=)"
                            } else {
                                "an integer"
                            },
                            found: bad.name(),
                        },
                        span,
                    );
                }
                if let (hir::ExprKind::Const(x), hir::ExprKind::Const(y)) = (&ha.kind, &hb.kind) {
                    let v = match op {
                        CmpOp::Eq => x == y,
                        CmpOp::Ne => x != y,
                        CmpOp::Lt => x < y,
                        CmpOp::Le => x <= y,
                        CmpOp::Gt => x > y,
                        CmpOp::Ge => x >= y,
                    };
                    return Ok((mk(hir::ExprKind::Const(v as u64), span), Ty::Bool));
                }
                Ok((
                    mk(hir::ExprKind::Cmp(*op, Box::new(ha), Box::new(hb)), span),
                    Ty::Bool,
                ))
            }
            ExprKind::Binary(op, a, b) => {
                let ha = self.int(a)?;
                let hb = self.int(b)?;
                if let hir::ExprKind::Const(y) = hb.kind {
                    match op {
                        BinOp::Div | BinOp::Mod if y == 0 => {
                            return err(ErrorKind::ConstArith("division by zero"), b.span);
                        }
                        BinOp::Shl | BinOp::Shr if y >= 64 => {
                            return err(
                                ErrorKind::OutOfRange {
                                    what: "shift",
                                    value: y,
                                    max: 63,
                                },
                                b.span,
                            );
                        }
                        _ => {}
                    }
                    if let hir::ExprKind::Const(x) = ha.kind {
                        let v = fold(*op, x, y)
                            .ok_or(Error::new(ErrorKind::ConstArith("overflow"), span))?;
                        return Ok((mk(hir::ExprKind::Const(v), span), Ty::Int));
                    }
                }
                Ok((
                    mk(hir::ExprKind::Bin(*op, Box::new(ha), Box::new(hb)), span),
                    Ty::Int,
                ))
            }
        }
    }

    fn name(&mut self, n: &str, span: Span) -> R<(hir::Expr, Ty)> {
        if let Some(v) = self.var(n) {
            return Ok((mk(hir::ExprKind::Var(v.id), span), v.ty));
        }
        if let Some(&(_, v)) = self.consts.iter().find(|(c, _)| c == n) {
            return Ok((mk(hir::ExprKind::Const(v), span), Ty::Int));
        }
        if let Some(v) = layers::constant(n) {
            return Ok((mk(hir::ExprKind::Const(v), span), Ty::Int));
        }
        let found = if Layer::from_name(n).is_some() || n == "pkt" {
            "a protocol (name one of its fields, e.g. `udp.dport`)"
        } else if self.region(n).is_some() {
            "a region (index it, e.g. `name[0]`)"
        } else if self.counters.iter().any(|c| c == n) {
            "a counter (bump it with `count(name)`)"
        } else {
            return err(ErrorKind::UnknownName(n.to_string()), span);
        };
        err(
            ErrorKind::Type {
                expected: "a value",
                found,
            },
            span,
        )
    }

    fn field(&mut self, e: &ast::Expr) -> R<(hir::Expr, Ty)> {
        let Some(p) = path(e) else {
            return err(
                ErrorKind::Type {
                    expected: "a protocol, `pkt` or a region before `.`",
                    found: "an expression",
                },
                e.span,
            );
        };
        if let [("pkt", _), (f, fspan)] = p.as_slice() {
            return match *f {
                "len" => Ok((mk(hir::ExprKind::PktLen, e.span), Ty::Int)),
                "ifindex" => Ok((mk(hir::ExprKind::IfIndex, e.span), Ty::Int)),
                _ => err(
                    ErrorKind::UnknownField {
                        layer: "pkt",
                        field: f.to_string(),
                    },
                    *fspan,
                ),
            };
        }
        let (last, lspan) = *p.last().expect("a field path has two names");
        match self.view(&p[..p.len() - 1])? {
            View::Layer(mem, layer) => match layer.field(last) {
                Some(field) => Ok((
                    mk(hir::ExprKind::Field { mem, layer, field }, e.span),
                    Ty::Int,
                )),
                None => {
                    if last == "payload" && layer.payload().is_some() {
                        return err(
                            ErrorKind::Type {
                                expected: "a value (read payload bytes with `[off:size]`)",
                                found: "a payload",
                            },
                            e.span,
                        );
                    }
                    err(
                        ErrorKind::UnknownField {
                            layer: layer.name(),
                            field: last.to_string(),
                        },
                        lspan,
                    )
                }
            },
            View::Start(_) => match Layer::from_name(last) {
                Some(_) => err(
                    ErrorKind::Type {
                        expected: "a value (name a field, e.g. `udp.dport`)",
                        found: "a protocol",
                    },
                    e.span,
                ),
                None => err(ErrorKind::UnknownLayer(last.to_string()), lspan),
            },
            View::Array(..) => err(
                ErrorKind::RegionKind {
                    name: p[0].0.to_string(),
                    expected: "a bytes region (only bytes regions have protocol fields)",
                },
                lspan,
            ),
        }
    }

    fn index(
        &mut self,
        base: &ast::Expr,
        index: &ast::Expr,
        size: Option<(u64, Span)>,
        span: Span,
    ) -> R<(hir::Expr, Ty)> {
        let Some(p) = path(base) else {
            return err(
                ErrorKind::Type {
                    expected: "a protocol, `pkt` or a region before `[`",
                    found: "an expression",
                },
                base.span,
            );
        };
        let view = self.view(&p)?;
        let idx = self.int(index)?;
        if let View::Array(region, elem) = view {
            if let Some((_, s)) = size {
                return err(
                    ErrorKind::RegionKind {
                        name: p[0].0.to_string(),
                        expected: "a bytes region (arrays take `name[index]`)",
                    },
                    s,
                );
            }
            return Ok((
                mk(
                    hir::ExprKind::Elem {
                        region,
                        elem,
                        index: Box::new(idx),
                    },
                    span,
                ),
                Ty::Int,
            ));
        }
        let size = match size {
            None => 1,
            Some((s @ (1 | 2 | 4 | 8), _)) => s as u8,
            Some((s, sspan)) => return err(ErrorKind::BadSize(s), sspan),
        };
        let (mem, layer) = match view {
            View::Start(m) => (m, None),
            View::Layer(m, l) => (m, Some(l)),
            View::Array(..) => unreachable!("handled above"),
        };
        if let hir::ExprKind::Const(c) = idx.kind
            && c > 0xffff
        {
            return err(
                ErrorKind::OutOfRange {
                    what: "offset",
                    value: c,
                    max: 0xffff,
                },
                index.span,
            );
        }
        Ok((
            mk(
                hir::ExprKind::Raw {
                    mem,
                    layer,
                    off: Box::new(idx),
                    size,
                },
                span,
            ),
            Ty::Int,
        ))
    }

    fn region_arg(&self, e: &ast::Expr, writable: bool) -> R<u32> {
        if let ExprKind::Name(n) = &e.kind
            && let Some((id, r)) = self.region(n)
        {
            if writable && !r.writable {
                return err(ErrorKind::ReadOnlyRegion(n.clone()), e.span);
            }
            return Ok(id);
        }
        err(
            ErrorKind::Type {
                expected: "a region name",
                found: "something else",
            },
            e.span,
        )
    }

    fn call(&mut self, f: &ast::Ident, args: &[ast::Expr], span: Span) -> R<(hir::Expr, Ty)> {
        let name = f.name.as_str();
        let count = |func: &'static str, lo: usize, hi: usize, expected: &'static str| -> R<()> {
            if args.len() < lo || args.len() > hi {
                return err(
                    ErrorKind::ArgCount {
                        func,
                        expected,
                        found: args.len(),
                    },
                    span,
                );
            }
            Ok(())
        };
        let call = |c: Call| mk(hir::ExprKind::Call(c), span);
        match name {
            "now" => {
                count("now", 0, 0, "no")?;
                Ok((call(Call::Now), Ty::Int))
            }
            "wake" => {
                count("wake", 0, 0, "no")?;
                Ok((call(Call::Wake), Ty::Unit))
            }
            "count" => {
                count("count", 1, 2, "1 or 2")?;
                let counter = match &args[0].kind {
                    ExprKind::Name(n) => self.counters.iter().position(|c| c == n),
                    _ => None,
                }
                .ok_or(Error::new(
                    ErrorKind::Type {
                        expected: "a counter name",
                        found: "something else",
                    },
                    args[0].span,
                ))?;
                let delta = match args.get(1) {
                    Some(d) => Some(Box::new(self.int(d)?)),
                    None => None,
                };
                Ok((
                    call(Call::Count {
                        counter: counter as u32,
                        delta,
                    }),
                    Ty::Int,
                ))
            }
            "copy" | "copy_csum" => {
                let csum = name == "copy_csum";
                if csum {
                    count("copy_csum", 4, 5, "4 or 5")?;
                } else {
                    count("copy", 4, 4, "4")?;
                }
                let region = self.region_arg(&args[0], true)?;
                let region_off = Box::new(self.int(&args[1])?);
                let pkt_off = Box::new(self.int(&args[2])?);
                let len = Box::new(self.int(&args[3])?);
                let seed = match args.get(4) {
                    Some(s) => Some(Box::new(self.int(s)?)),
                    None => None,
                };
                Ok((
                    call(Call::Copy {
                        region,
                        region_off,
                        pkt_off,
                        len,
                        csum,
                        seed,
                    }),
                    Ty::Int,
                ))
            }
            "send" => {
                count("send", 2, 2, "2")?;
                let region = self.region_arg(&args[0], false)?;
                let len = Box::new(self.int(&args[1])?);
                Ok((call(Call::Send { region, len }), Ty::Unit))
            }
            "checksum" => {
                count("checksum", 3, 4, "3 or 4")?;
                let region = self.region_arg(&args[0], false)?;
                let off = self.int(&args[1])?;
                let Some((_, off_max)) = self.range(&off) else {
                    return err(ErrorKind::UnboundedOffset, args[1].span);
                };
                let size = self.regions[region as usize].1.size as u64;
                if off_max >= size {
                    return err(
                        ErrorKind::RegionTooSmall {
                            name: self.regions[region as usize].0.clone(),
                            need: off_max + 1,
                            size,
                        },
                        args[1].span,
                    );
                }
                let len = Box::new(self.int(&args[2])?);
                let seed = match args.get(3) {
                    Some(s) => Some(Box::new(self.int(s)?)),
                    None => None,
                };
                Ok((
                    call(Call::Checksum {
                        region,
                        off: Box::new(off),
                        off_max,
                        len,
                        seed,
                    }),
                    Ty::Int,
                ))
            }
            "offset" => {
                count("offset", 1, 1, "1")?;
                let p = path(&args[0]).ok_or(Error::new(
                    ErrorKind::Type {
                        expected: "a protocol such as `udp` or `reply.udp.payload`",
                        found: "an expression",
                    },
                    args[0].span,
                ))?;
                match self.view(&p)? {
                    View::Layer(mem, layer) => {
                        Ok((mk(hir::ExprKind::Offset { mem, layer }, span), Ty::Int))
                    }
                    _ => err(
                        ErrorKind::Type {
                            expected: "a protocol such as `udp` or `reply.udp.payload`",
                            found: "a frame start or an array",
                        },
                        args[0].span,
                    ),
                }
            }
            _ => err(ErrorKind::UnknownFunction(name.to_string()), f.span),
        }
    }

    /// Smallest and largest value `e` can have, when known.
    fn range(&self, e: &hir::Expr) -> Option<(u64, u64)> {
        use hir::ExprKind as K;
        Some(match &e.kind {
            K::Const(c) => (*c, *c),
            K::Var(v) => self.ranges[*v as usize]?,
            K::PktLen => (0, 0xffff),
            K::IfIndex => (0, u32::MAX as u64),
            K::Offset { layer, .. } => layer.base().range(),
            K::Field { field, .. } => (0, field.max()),
            K::Raw { size, .. } => (0, max_of(*size)),
            K::Elem { elem, .. } => (0, max_of(*elem)),
            K::Cmp(..) | K::Not(_) | K::And(..) | K::Or(..) => (0, 1),
            K::Call(Call::Checksum { .. }) => (0, 0xffff),
            K::Call(Call::Copy { csum: true, .. }) => (0, 0xffff),
            K::Call(_) => return None,
            K::Bin(op, a, b) => {
                let (al, ah) = self.range(a)?;
                let (bl, bh) = self.range(b)?;
                match op {
                    BinOp::Add => (al.checked_add(bl)?, ah.checked_add(bh)?),
                    BinOp::Sub => (al.saturating_sub(bh), ah.checked_sub(bl)?),
                    BinOp::Mul => (al.checked_mul(bl)?, ah.checked_mul(bh)?),
                    BinOp::Div => (al / bh.max(1), ah / bl.max(1)),
                    BinOp::Mod => (0, ah.min(bh.saturating_sub(1))),
                    BinOp::And => (0, ah.min(bh)),
                    BinOp::Or | BinOp::Xor => (0, all_ones(ah.max(bh))),
                    BinOp::Shl => {
                        let hi = ah.checked_shl(u32::try_from(bh).ok()?)?;
                        if hi >> bh != ah {
                            return None;
                        }
                        (al << bl.min(63), hi)
                    }
                    BinOp::Shr => (al >> bh.min(63), ah >> bl.min(63)),
                }
            }
        })
    }
}

fn all_ones(v: u64) -> u64 {
    if v == 0 {
        0
    } else {
        u64::MAX >> v.leading_zeros()
    }
}

/// Largest value of `bytes` bytes.
pub fn max_of(bytes: u8) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * bytes as u32)) - 1
    }
}

/// Checked constant arithmetic (`None` on overflow or division by zero).
pub fn fold(op: BinOp, x: u64, y: u64) -> Option<u64> {
    match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div => x.checked_div(y),
        BinOp::Mod => x.checked_rem(y),
        BinOp::And => Some(x & y),
        BinOp::Or => Some(x | y),
        BinOp::Xor => Some(x ^ y),
        BinOp::Shl => {
            let s = u32::try_from(y).ok().filter(|&s| s < 64)?;
            let v = x << s;
            (v >> s == x).then_some(v)
        }
        BinOp::Shr => {
            let s = u32::try_from(y).ok().filter(|&s| s < 64)?;
            Some(x >> s)
        }
    }
}
