//! Recursive-descent parser for pcap-filter, following libpcap's grammar:
//!
//! * `and`/`&&` and `or`/`||` have *equal* precedence and associate left;
//!   `not`/`!` binds tightest.
//! * An identifier without qualifiers reuses the previous primitive's
//!   qualifiers (`port 80 or 443`, `host a and not b`); with no previous
//!   primitive it means `host`.
//! * Arithmetic: `|` < `&` < `<< >>` < `+ -` < `* / %` < unary `-`; `^`
//!   takes everything to its right as its right operand (libpcap gives it no
//!   precedence, so its parser always shifts on `^`).

use super::ast::{ArOp, Arith, Dir, Expr, Prim, Proto, RelOp};
use super::error::{Error, ErrorKind, Span};
use super::lexer::{Punct, Tok, Token, lex};
use super::ranges::RangeSet;
use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Deepest nesting of parentheses, brackets and `not`s accepted.
pub const MAX_DEPTH: usize = 64;

/// Longest expression accepted, in tokens (bounds recursion in later passes).
pub const MAX_TOKENS: usize = 8192;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Host,
    Net,
    Port,
    PortRange,
    Proto,
}

#[derive(Clone, Copy, Default, Debug)]
struct Quals {
    proto: Option<Proto>,
    dir: Option<Dir>,
    ty: Option<Ty>,
}

/// Parses a pcap-filter expression. The empty expression is rejected (it
/// would match everything; say `len >= 0` for that).
pub fn parse(src: &str) -> Result<Expr, Error> {
    let toks = lex(src)?;
    if toks.len() > MAX_TOKENS {
        return Err(Error::new(
            ErrorKind::Unsupported("an expression of more than 8192 tokens"),
            toks[MAX_TOKENS].span,
        ));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        last: None,
        end: src.len(),
        src,
    };
    let e = p.expr()?;
    if let Some(t) = p.peek() {
        return Err(p.unexpected(t, "`and`, `or` or the end of the expression"));
    }
    Ok(e)
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
    last: Option<Quals>,
    end: usize,
    src: &'a str,
}

fn proto_word(w: &str) -> Option<Proto> {
    Some(match w {
        "ether" | "link" => Proto::Ether,
        "ip" => Proto::Ip,
        "ip6" => Proto::Ip6,
        "arp" => Proto::Arp,
        "rarp" => Proto::Rarp,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        "icmp" => Proto::Icmp,
        "icmp6" => Proto::Icmp6,
        "igmp" => Proto::Igmp,
        _ => return None,
    })
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "src",
    "dst",
    "host",
    "net",
    "port",
    "portrange",
    "proto",
    "mask",
    "len",
    "greater",
    "less",
    "broadcast",
    "multicast",
    "gateway",
    "vlan",
    "mpls",
    "inbound",
    "outbound",
];

fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w) || proto_word(w).is_some() || named_const(w).is_some()
}

fn named_const(w: &str) -> Option<u32> {
    Some(match w {
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        "icmptype" | "icmp6type" => 0,
        "icmpcode" | "icmp6code" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        "icmp6-echo" => 128,
        "icmp6-echoreply" => 129,
        "icmp6-routersolicit" => 133,
        "icmp6-routeradvert" => 134,
        "icmp6-neighborsolicit" => 135,
        "icmp6-neighboradvert" => 136,
        _ => return None,
    })
}

/// Parses a libpcap number: decimal, `0x` hex or `0` octal, 32 bits.
pub fn parse_number(w: &str) -> Option<u32> {
    let (digits, radix) = if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        (h, 16)
    } else if w.len() > 1 && w.starts_with('0') {
        (&w[1..], 8)
    } else {
        (w, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

fn looks_numeric(w: &str) -> bool {
    w.bytes().next().is_some_and(|c| c.is_ascii_digit())
}

fn parse_mac(w: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let parts: Vec<&str> = if w.contains(':') {
        w.split(':').collect()
    } else if w.contains('-') {
        w.split('-').collect()
    } else {
        // xxxx.xxxx.xxxx
        let g: Vec<&str> = w.split('.').collect();
        if g.len() != 3 || g.iter().any(|s| s.len() != 4) {
            return None;
        }
        for (i, s) in g.iter().enumerate() {
            let v = u16::from_str_radix(s, 16).ok()?;
            out[2 * i] = (v >> 8) as u8;
            out[2 * i + 1] = v as u8;
        }
        return Some(out);
    };
    if parts.len() != 6 {
        return None;
    }
    for (o, s) in out.iter_mut().zip(parts) {
        if s.is_empty() || s.len() > 2 {
            return None;
        }
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Parses a (possibly partial) dotted IPv4 network: `10`, `10.1`, `10.1.2`,
/// `10.1.2.3`; returns the address and the number of parts.
fn parse_v4_parts(w: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = w.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut v = 0u32;
    for p in &parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u32 = p.parse().ok()?;
        if n > 255 {
            return None;
        }
        v = v << 8 | n;
    }
    Some((v << (8 * (4 - parts.len() as u32)), parts.len() as u32))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<Token<'a>> {
        self.toks.get(self.pos + n).copied()
    }

    fn end_span(&self) -> Span {
        Span::new(self.end, self.end)
    }

    fn unexpected(&self, t: Token<'a>, expected: &'static str) -> Error {
        let found = self
            .src
            .get(t.span.start..t.span.end)
            .unwrap_or("?")
            .to_string();
        Error::new(ErrorKind::Unexpected { found, expected }, t.span)
    }

    fn expected(&self, expected: &'static str) -> Error {
        match self.peek() {
            Some(t) => self.unexpected(t, expected),
            None => Error::new(ErrorKind::UnexpectedEnd { expected }, self.end_span()),
        }
    }

    fn is_punct(&self, p: Punct) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if q == p)
    }

    fn eat_punct(&mut self, p: Punct) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }

    fn word_at(&self, n: usize) -> Option<&'a str> {
        match self.peek_at(n)?.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    fn enter(&mut self, span: Span) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(ErrorKind::TooDeep, span));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- boolean level ----

    fn bool_op(&self) -> Option<bool> {
        match self.peek()?.tok {
            Tok::Word("and") | Tok::Punct(Punct::AndAnd) => Some(true),
            Tok::Word("or") | Tok::Punct(Punct::OrOr) => Some(false),
            _ => None,
        }
    }

    fn expr(&mut self) -> Result<Expr, Error> {
        let mut left = self.unary()?;
        while let Some(is_and) = self.bool_op() {
            self.pos += 1;
            let right = self.unary()?;
            left = if is_and {
                Expr::And(Box::new(left), Box::new(right))
            } else {
                Expr::Or(Box::new(left), Box::new(right))
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        let Some(t) = self.peek() else {
            return Err(self.expected("a primitive"));
        };
        if matches!(t.tok, Tok::Word("not") | Tok::Punct(Punct::Bang)) {
            self.pos += 1;
            self.enter(t.span)?;
            let e = self.unary();
            self.leave();
            return Ok(Expr::Not(Box::new(e?)));
        }
        self.primary()
    }

    /// Whether the tokens at the cursor start an arithmetic expression that
    /// must be part of a relation.
    fn starts_relation(&self) -> bool {
        let Some(t) = self.peek() else { return false };
        match t.tok {
            Tok::Punct(Punct::Minus) => true,
            Tok::Word("len") => true,
            Tok::Word(w) if named_const(w).is_some() => true,
            Tok::Word(w) if proto_word(w).is_some() => matches!(
                self.peek_at(1),
                Some(Token {
                    tok: Tok::Punct(Punct::LBracket),
                    ..
                })
            ),
            Tok::Word(w) if parse_number(w).is_some() => matches!(
                self.peek_at(1),
                Some(Token { tok: Tok::Punct(p), .. }) if !matches!(p, Punct::RParen | Punct::AndAnd | Punct::OrOr | Punct::Bang)
            ),
            _ => false,
        }
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        let t = self.peek().ok_or_else(|| self.expected("a primitive"))?;
        if let Tok::Punct(Punct::LParen) = t.tok {
            // Either a parenthesized arithmetic operand of a relation or a
            // parenthesized boolean expression: try the relation first.
            let save = (self.pos, self.last);
            self.enter(t.span)?;
            let rel = self.relation();
            let rel = match rel {
                Ok(r) => {
                    self.leave();
                    return Ok(r);
                }
                Err(e) => e,
            };
            (self.pos, self.last) = save;
            self.pos += 1;
            let inner = self.expr();
            let r = match inner {
                Ok(e) => {
                    if self.eat_punct(Punct::RParen) {
                        Ok(e)
                    } else {
                        Err(self.expected("`)`"))
                    }
                }
                Err(e) => Err(e),
            };
            self.leave();
            return r.map_err(|e| {
                if e.span.start >= rel.span.start {
                    e
                } else {
                    rel
                }
            });
        }
        if self.starts_relation() {
            return self.relation();
        }
        self.primitive()
    }

    fn relation(&mut self) -> Result<Expr, Error> {
        let lhs = self.arith()?;
        let op = match self.peek().map(|t| t.tok) {
            Some(Tok::Punct(Punct::Eq)) => RelOp::Eq,
            Some(Tok::Punct(Punct::Ne)) => RelOp::Ne,
            Some(Tok::Punct(Punct::Lt)) => RelOp::Lt,
            Some(Tok::Punct(Punct::Le)) => RelOp::Le,
            Some(Tok::Punct(Punct::Gt)) => RelOp::Gt,
            Some(Tok::Punct(Punct::Ge)) => RelOp::Ge,
            _ => return Err(self.expected("a comparison (==, !=, <, <=, >, >=)")),
        };
        self.pos += 1;
        let rhs = self.arith()?;
        Ok(Expr::Rel { op, lhs, rhs })
    }

    // ---- arithmetic ----

    fn arith(&mut self) -> Result<Arith, Error> {
        self.arith_level(0)
    }

    fn arith_op(&self, level: u8) -> Option<ArOp> {
        let Tok::Punct(p) = self.peek()?.tok else {
            return None;
        };
        let (l, op) = match p {
            Punct::Pipe => (0, ArOp::Or),
            Punct::Amp => (1, ArOp::And),
            Punct::Shl => (2, ArOp::Shl),
            Punct::Shr => (2, ArOp::Shr),
            Punct::Plus => (3, ArOp::Add),
            Punct::Minus => (3, ArOp::Sub),
            Punct::Star => (4, ArOp::Mul),
            Punct::Slash => (4, ArOp::Div),
            Punct::Percent => (4, ArOp::Mod),
            _ => return None,
        };
        (l == level).then_some(op)
    }

    fn arith_level(&mut self, level: u8) -> Result<Arith, Error> {
        if level > 4 {
            return self.arith_unary();
        }
        let mut left = self.arith_level(level + 1)?;
        while let Some(op) = self.arith_op(level) {
            let op_span = self.peek().map(|t| t.span).unwrap_or_default();
            self.pos += 1;
            let rhs_start = self.peek().map(|t| t.span).unwrap_or(self.end_span());
            let right = self.arith_level(level + 1)?;
            check_const_rhs(op, &right, op_span.to(rhs_start))?;
            left = Arith::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn arith_unary(&mut self) -> Result<Arith, Error> {
        let t = self
            .peek()
            .ok_or_else(|| self.expected("a number or a packet field"))?;
        if let Tok::Punct(Punct::Minus) = t.tok {
            self.pos += 1;
            self.enter(t.span)?;
            let e = self.arith_unary();
            self.leave();
            return Ok(Arith::Neg(Box::new(e?)));
        }
        let prim = self.arith_primary()?;
        if self.eat_punct(Punct::Caret) {
            self.enter(t.span)?;
            let rhs = self.arith();
            self.leave();
            return Ok(Arith::Bin(ArOp::Xor, Box::new(prim), Box::new(rhs?)));
        }
        Ok(prim)
    }

    fn arith_primary(&mut self) -> Result<Arith, Error> {
        let t = self
            .peek()
            .ok_or_else(|| self.expected("a number or a packet field"))?;
        match t.tok {
            Tok::Punct(Punct::LParen) => {
                self.pos += 1;
                self.enter(t.span)?;
                let e = self.arith();
                self.leave();
                let e = e?;
                if !self.eat_punct(Punct::RParen) {
                    return Err(self.expected("`)`"));
                }
                Ok(e)
            }
            Tok::Word("len") => {
                self.pos += 1;
                Ok(Arith::Len)
            }
            Tok::Word(w) => {
                if let Some(v) = named_const(w) {
                    self.pos += 1;
                    return Ok(Arith::Num(v));
                }
                if let Some(proto) = proto_word(w) {
                    self.pos += 1;
                    return self.accessor(proto, t.span);
                }
                if looks_numeric(w) {
                    self.pos += 1;
                    return parse_number(w)
                        .map(Arith::Num)
                        .ok_or_else(|| Error::new(ErrorKind::BadNumber(w.to_string()), t.span));
                }
                Err(self.unexpected(t, "a number, `len` or a packet field like `ip[9]`"))
            }
            _ => Err(self.unexpected(t, "a number, `len` or a packet field like `ip[9]`")),
        }
    }

    fn accessor(&mut self, proto: Proto, span: Span) -> Result<Arith, Error> {
        let open = self.peek().map(|t| t.span).unwrap_or(span);
        if !self.eat_punct(Punct::LBracket) {
            return Err(self.expected("`[` (as in `ip[9]`)"));
        }
        self.enter(open)?;
        let index = self.arith();
        self.leave();
        let index = index?;
        let mut size = 1u8;
        if self.eat_punct(Punct::Colon) {
            let t = self.peek().ok_or_else(|| self.expected("1, 2 or 4"))?;
            let Tok::Word(w) = t.tok else {
                return Err(self.unexpected(t, "1, 2 or 4"));
            };
            let n = parse_number(w)
                .ok_or_else(|| Error::new(ErrorKind::BadNumber(w.to_string()), t.span))?;
            if !matches!(n, 1 | 2 | 4) {
                return Err(Error::new(ErrorKind::BadSize(n as u64), t.span));
            }
            size = n as u8;
            self.pos += 1;
        }
        if !self.eat_punct(Punct::RBracket) {
            return Err(self.expected("`]`"));
        }
        if proto == Proto::Igmp {
            return Err(Error::new(ErrorKind::Unsupported("`igmp[...]`"), span));
        }
        Ok(Arith::Load {
            proto,
            index: Box::new(index),
            size,
        })
    }

    // ---- primitives ----

    fn primitive(&mut self) -> Result<Expr, Error> {
        let t = self.peek().ok_or_else(|| self.expected("a primitive"))?;
        let w = match t.tok {
            Tok::Word(w) => w,
            Tok::Escaped(_) => return Err(self.unexpected(t, "a primitive")),
            Tok::Punct(_) => return Err(self.unexpected(t, "a primitive")),
        };
        match w {
            "greater" | "less" => {
                self.pos += 1;
                let n = self.number("a length")?;
                let op = if w == "greater" { RelOp::Ge } else { RelOp::Le };
                return Ok(Expr::Rel {
                    op,
                    lhs: Arith::Len,
                    rhs: Arith::Num(n),
                });
            }
            "gateway" | "vlan" | "mpls" | "inbound" | "outbound" | "pppoed" | "pppoes"
            | "geneve" => {
                return Err(Error::new(
                    ErrorKind::Unsupported(match w {
                        "vlan" => "`vlan` (it shifts the offsets of later primitives)",
                        "gateway" => "`gateway` (it needs name resolution)",
                        _ => "this primitive",
                    }),
                    t.span,
                ));
            }
            _ => {}
        }
        // An identifier alone: reuse the previous qualifiers (or `host`).
        if !is_keyword(w) {
            let q = self.last.unwrap_or_default();
            self.pos += 1;
            return self.finish(q, t);
        }
        let mut q = Quals::default();
        let start = t.span;
        if let Some(p) = proto_word(w) {
            q.proto = Some(p);
            self.pos += 1;
        }
        if let Some(d) = self.word_at(0)
            && (d == "src" || d == "dst")
        {
            {
                let combined = match (self.word_at(1), self.word_at(2)) {
                    (Some("or"), Some(o)) if o != d && (o == "src" || o == "dst") => {
                        Some(Dir::Either)
                    }
                    (Some("and"), Some(o)) if o != d && (o == "src" || o == "dst") => {
                        Some(Dir::Both)
                    }
                    _ => None,
                };
                match combined {
                    Some(dir) => {
                        q.dir = Some(dir);
                        self.pos += 3;
                    }
                    None => {
                        q.dir = Some(if d == "src" { Dir::Src } else { Dir::Dst });
                        self.pos += 1;
                    }
                }
            }
        }
        if let Some(ty) = self.word_at(0) {
            let ty = match ty {
                "host" => Some(Ty::Host),
                "net" => Some(Ty::Net),
                "port" => Some(Ty::Port),
                "portrange" => Some(Ty::PortRange),
                "proto" => Some(Ty::Proto),
                _ => None,
            };
            if ty.is_some() {
                q.ty = ty;
                self.pos += 1;
            }
        }
        // `ether broadcast`, `broadcast`, `ether multicast`, `multicast`.
        if let Some(b @ ("broadcast" | "multicast")) = self.word_at(0) {
            let span = self.peek().map(|t| t.span).unwrap_or(start);
            if q.dir.is_some() || q.ty.is_some() || !matches!(q.proto, None | Some(Proto::Ether)) {
                return Err(Error::new(
                    ErrorKind::Unsupported("`broadcast`/`multicast` other than for `ether`"),
                    start.to(span),
                ));
            }
            self.pos += 1;
            return Ok(Expr::Prim(if b == "broadcast" {
                Prim::EtherBroadcast
            } else {
                Prim::EtherMulticast
            }));
        }
        // A protocol alone.
        let at_end = match self.peek() {
            None => true,
            Some(t) => matches!(
                t.tok,
                Tok::Word("and" | "or") | Tok::Punct(Punct::RParen | Punct::AndAnd | Punct::OrOr)
            ),
        };
        if at_end && q.dir.is_none() && q.ty.is_none() {
            return match q.proto {
                Some(Proto::Ether) => Err(self.expected(
                    "`host`, `src`, `dst`, `proto`, `broadcast` or `multicast` after `ether`",
                )),
                Some(p) => Ok(Expr::Prim(Prim::Proto(p))),
                None => Err(self.unexpected(t, "a primitive")),
            };
        }
        let id = self
            .peek()
            .ok_or_else(|| self.expected("an address, number or name"))?;
        if let Tok::Word(w) = id.tok
            && is_keyword(w)
        {
            return Err(self.unexpected(id, "an address, number or name"));
        }
        if let Tok::Punct(_) = id.tok {
            return Err(self.unexpected(id, "an address, number or name"));
        }
        self.pos += 1;
        self.last = Some(q);
        self.finish(q, id)
    }

    fn number(&mut self, what: &'static str) -> Result<u32, Error> {
        let t = self.peek().ok_or_else(|| self.expected(what))?;
        let Tok::Word(w) = t.tok else {
            return Err(self.unexpected(t, what));
        };
        self.pos += 1;
        parse_number(w).ok_or_else(|| Error::new(ErrorKind::BadNumber(w.to_string()), t.span))
    }

    /// Builds the primitive for qualifiers `q` and the identifier token `id`.
    fn finish(&mut self, q: Quals, id: Token<'a>) -> Result<Expr, Error> {
        let (w, escaped) = match id.tok {
            Tok::Word(w) => (w, false),
            Tok::Escaped(w) => (w, true),
            Tok::Punct(_) => return Err(self.unexpected(id, "an address, number or name")),
        };
        let span = id.span;
        let bad_q = |what: &str| {
            Err(Error::new(
                ErrorKind::BadQualifier {
                    what: what.to_string(),
                },
                span,
            ))
        };
        let ty = q.ty.unwrap_or(Ty::Host);
        let dir = q.dir.unwrap_or(Dir::Either);
        match ty {
            Ty::Proto => {
                if q.dir.is_some() {
                    return bad_q("`src`/`dst` cannot qualify `proto`");
                }
                let n = match parse_number(w) {
                    Some(n) if !escaped => n,
                    _ => match (q.proto, w) {
                        (Some(Proto::Ether), "ip") => 0x800,
                        (Some(Proto::Ether), "ip6") => 0x86dd,
                        (Some(Proto::Ether), "arp") => 0x806,
                        (Some(Proto::Ether), "rarp") => 0x8035,
                        (Some(Proto::Ether), _) => {
                            return Err(Error::new(ErrorKind::UnknownName(w.to_string()), span));
                        }
                        (_, w) => match proto_word(w).and_then(Proto::ip_proto) {
                            Some(n) => n as u32,
                            None => {
                                return Err(Error::new(
                                    ErrorKind::UnknownName(w.to_string()),
                                    span,
                                ));
                            }
                        },
                    },
                };
                match q.proto {
                    Some(Proto::Ether) => {
                        if n > 0xffff {
                            return Err(Error::new(
                                ErrorKind::OutOfRange {
                                    what: "ethertype",
                                    value: n as u64,
                                    max: 0xffff,
                                },
                                span,
                            ));
                        }
                        if n <= 1500 {
                            return Err(Error::new(
                                ErrorKind::Unsupported(
                                    "`ether proto` with an 802.3 length (<= 1500)",
                                ),
                                span,
                            ));
                        }
                        Ok(Expr::Prim(Prim::EtherProto(n as u16)))
                    }
                    None | Some(Proto::Ip) | Some(Proto::Ip6) => {
                        if n > 255 {
                            return Err(Error::new(
                                ErrorKind::OutOfRange {
                                    what: "IP protocol",
                                    value: n as u64,
                                    max: 255,
                                },
                                span,
                            ));
                        }
                        Ok(Expr::Prim(Prim::IpProto {
                            v4: q.proto != Some(Proto::Ip6),
                            v6: q.proto != Some(Proto::Ip),
                            proto: n as u8,
                        }))
                    }
                    Some(_) => bad_q("`proto` applies to `ether`, `ip` and `ip6` only"),
                }
            }
            Ty::Port | Ty::PortRange => {
                let (tcp, udp, sctp) = match q.proto {
                    None => (true, true, true),
                    Some(Proto::Tcp) => (true, false, false),
                    Some(Proto::Udp) => (false, true, false),
                    Some(Proto::Sctp) => (false, false, true),
                    Some(_) => return bad_q("`port` applies to `tcp`, `udp` and `sctp` only"),
                };
                let port = |s: &str| -> Result<u16, Error> {
                    let n = parse_number(s).ok_or_else(|| {
                        if looks_numeric(s) {
                            Error::new(ErrorKind::BadNumber(s.to_string()), span)
                        } else {
                            Error::new(ErrorKind::UnknownName(s.to_string()), span)
                        }
                    })?;
                    u16::try_from(n).map_err(|_| {
                        Error::new(
                            ErrorKind::OutOfRange {
                                what: "port",
                                value: n as u64,
                                max: 65535,
                            },
                            span,
                        )
                    })
                };
                let (lo, hi) = if ty == Ty::PortRange {
                    let Some((a, b)) = w.split_once('-') else {
                        return Err(Error::new(
                            ErrorKind::Unexpected {
                                found: w.to_string(),
                                expected: "a port range like 1000-2000",
                            },
                            span,
                        ));
                    };
                    let (a, b) = (port(a)?, port(b)?);
                    (a.min(b), a.max(b))
                } else {
                    let p = port(w)?;
                    (p, p)
                };
                Ok(Expr::Prim(Prim::Port {
                    dir,
                    ports: RangeSet::range(lo as u32, hi as u32),
                    tcp,
                    udp,
                    sctp,
                }))
            }
            Ty::Host | Ty::Net => self.address(q, ty, dir, w, span),
        }
    }

    fn address(
        &mut self,
        q: Quals,
        ty: Ty,
        dir: Dir,
        w: &'a str,
        span: Span,
    ) -> Result<Expr, Error> {
        let bad_addr = || Error::new(ErrorKind::BadAddress(w.to_string()), span);
        // Ethernet addresses.
        if q.proto == Some(Proto::Ether)
            || (ty == Ty::Host && w.matches(':').count() == 5 && q.proto.is_none())
        {
            if ty == Ty::Net {
                return Err(Error::new(
                    ErrorKind::BadQualifier {
                        what: "`ether net` does not exist; use `ether host`".to_string(),
                    },
                    span,
                ));
            }
            let mac = parse_mac(w).ok_or_else(bad_addr)?;
            if dir == Dir::Both {
                return Ok(Expr::And(
                    Box::new(Expr::Prim(Prim::EtherAddr { dir: Dir::Src, mac })),
                    Box::new(Expr::Prim(Prim::EtherAddr { dir: Dir::Dst, mac })),
                ));
            }
            return Ok(Expr::Prim(Prim::EtherAddr { dir, mac }));
        }
        // An optional `/len` or `mask M` for nets.
        let mut prefix: Option<(u32, Span)> = None;
        let mut mask4: Option<u32> = None;
        if ty == Ty::Net {
            if self.eat_punct(Punct::Slash) {
                let t = self
                    .peek()
                    .ok_or_else(|| self.expected("a prefix length"))?;
                let n = self.number("a prefix length")?;
                prefix = Some((n, t.span));
            } else if self.is_word("mask") {
                self.pos += 1;
                let t = self.peek().ok_or_else(|| self.expected("a netmask"))?;
                let Tok::Word(m) = t.tok else {
                    return Err(self.unexpected(t, "a netmask like 255.255.0.0"));
                };
                self.pos += 1;
                let m: Ipv4Addr = m
                    .parse()
                    .map_err(|_| Error::new(ErrorKind::BadAddress(m.to_string()), t.span))?;
                mask4 = Some(u32::from(m));
            }
        }
        let full = span.to(self
            .toks
            .get(self.pos.wrapping_sub(1))
            .map_or(span, |t| t.span));
        if w.contains(':') {
            if !matches!(q.proto, None | Some(Proto::Ip6)) {
                return Err(Error::new(
                    ErrorKind::BadQualifier {
                        what: "an IPv6 address needs `ip6` or no protocol qualifier".to_string(),
                    },
                    span,
                ));
            }
            let a: Ipv6Addr = w.parse().map_err(|_| bad_addr())?;
            let addr = a.octets();
            let plen = match (ty, prefix) {
                (Ty::Host, _) => 128,
                (_, Some((n, s))) => {
                    if n > 128 {
                        return Err(Error::new(
                            ErrorKind::OutOfRange {
                                what: "prefix length",
                                value: n as u64,
                                max: 128,
                            },
                            s,
                        ));
                    }
                    n as u8
                }
                (_, None) => {
                    if mask4.is_some() {
                        return Err(Error::new(ErrorKind::Unsupported("`mask` with IPv6"), full));
                    }
                    128
                }
            };
            let bits = u128::from_be_bytes(addr);
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen as u32)
            };
            if bits & !m != 0 {
                return Err(Error::new(ErrorKind::NonNetworkBits(w.to_string()), full));
            }
            return Ok(Expr::Prim(Prim::Net6 {
                dir,
                addr,
                prefix: plen,
            }));
        }
        let (ip, arp, rarp) = match q.proto {
            None => (true, true, true),
            Some(Proto::Ip) => (true, false, false),
            Some(Proto::Arp) => (false, true, false),
            Some(Proto::Rarp) => (false, false, true),
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::BadQualifier {
                        what: "an IPv4 address needs `ip`, `arp`, `rarp` or no protocol qualifier"
                            .to_string(),
                    },
                    span,
                ));
            }
        };
        let (addr, parts) = if looks_numeric(w) {
            parse_v4_parts(w).ok_or_else(bad_addr)?
        } else {
            return Err(Error::new(ErrorKind::UnknownName(w.to_string()), span));
        };
        let mask = match ty {
            Ty::Host => {
                if parts != 4 {
                    return Err(bad_addr());
                }
                u32::MAX
            }
            _ => match (prefix, mask4) {
                (Some((n, s)), _) => {
                    if n > 32 {
                        return Err(Error::new(
                            ErrorKind::OutOfRange {
                                what: "prefix length",
                                value: n as u64,
                                max: 32,
                            },
                            s,
                        ));
                    }
                    if n == 0 { 0 } else { u32::MAX << (32 - n) }
                }
                (None, Some(m)) => m,
                (None, None) => {
                    if parts == 4 {
                        u32::MAX
                    } else {
                        u32::MAX << (32 - 8 * parts)
                    }
                }
            },
        };
        if addr & !mask != 0 {
            return Err(Error::new(ErrorKind::NonNetworkBits(w.to_string()), full));
        }
        Ok(Expr::Prim(Prim::Net4 {
            dir,
            addrs: RangeSet::single(addr),
            mask,
            ip,
            arp,
            rarp,
        }))
    }
}

fn check_const_rhs(op: ArOp, rhs: &Arith, span: Span) -> Result<(), Error> {
    match (op, rhs) {
        (ArOp::Div | ArOp::Mod, Arith::Num(0)) => Err(Error::new(ErrorKind::DivisionByZero, span)),
        (ArOp::Shl | ArOp::Shr, Arith::Num(n)) if *n > 31 => Err(Error::new(
            ErrorKind::OutOfRange {
                what: "shift",
                value: *n as u64,
                max: 31,
            },
            span,
        )),
        _ => Ok(()),
    }
}
