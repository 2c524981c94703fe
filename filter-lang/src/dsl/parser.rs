//! Recursive-descent parser: tokens to [`ast::Item`]s.
//!
//! Statements end at a line end, a `;` or a `}`. Inside `( )` and `[ ]`,
//! and after a binary operator or a comma, line ends are ignored, so long
//! expressions continue on the next line. Operator precedence, loosest
//! first: `||`, `&&`, comparisons (not chained), `|`, `^`, `&`, `<< >>`,
//! `+ -`, `* / %`, unary `!`. Unlike C, bitwise operators bind tighter
//! than comparisons: `tcp.flags & TCP_SYN != 0` means what it says.

use super::ast::*;
use super::error::{Error, ErrorKind, Span};
use super::lexer::{Punct, Tok, Token, lex};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Deepest nesting of blocks and expressions accepted.
pub const MAX_DEPTH: usize = 48;

struct Parser<'t> {
    toks: &'t [Token],
    pos: usize,
    /// Inside `( )` or `[ ]`: line ends are not tokens.
    nested: usize,
    depth: usize,
    src_len: usize,
}

type PResult<T> = Result<T, Error>;

/// Parses a whole source file.
pub fn parse(src: &str) -> Result<Vec<Item>, Error> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        nested: 0,
        depth: 0,
        src_len: src.len(),
    };
    p.file()
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s == kw)
}

impl Parser<'_> {
    fn skip_nl_if_nested(&mut self) {
        if self.nested > 0 {
            self.skip_newlines();
        }
    }

    fn skip_newlines(&mut self) {
        while matches!(
            self.toks.get(self.pos),
            Some(Token {
                tok: Tok::Newline,
                ..
            })
        ) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<&Tok> {
        self.skip_nl_if_nested();
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_span(&mut self) -> Span {
        self.skip_nl_if_nested();
        self.toks
            .get(self.pos)
            .map_or(Span::new(self.src_len, self.src_len), |t| t.span)
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(0, |t| t.span.end)
    }

    fn unexpected<T>(&mut self, expected: &'static str) -> PResult<T> {
        let span = self.peek_span();
        Err(match self.peek().cloned() {
            Some(t) => Error::new(
                ErrorKind::Unexpected {
                    found: t.describe(),
                    expected,
                },
                span,
            ),
            None => Error::new(ErrorKind::UnexpectedEnd { expected }, span),
        })
    }

    fn eat(&mut self, p: Punct) -> bool {
        if self.peek() == Some(&Tok::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: Punct, expected: &'static str) -> PResult<Span> {
        let span = self.peek_span();
        if self.eat(p) {
            Ok(span)
        } else {
            self.unexpected(expected)
        }
    }

    fn eat_kw(&mut self, kw: &str) -> Option<Span> {
        let span = self.peek_span();
        if self.peek().is_some_and(|t| is_kw(t, kw)) {
            self.pos += 1;
            Some(span)
        } else {
            None
        }
    }

    fn ident(&mut self, expected: &'static str) -> PResult<Ident> {
        let span = self.peek_span();
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(Ident { name, span })
            }
            _ => self.unexpected(expected),
        }
    }

    fn number(&mut self, expected: &'static str) -> PResult<(u64, Span)> {
        let span = self.peek_span();
        match self.peek() {
            Some(&Tok::Num(n)) => {
                self.pos += 1;
                Ok((n, span))
            }
            _ => self.unexpected(expected),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(ErrorKind::TooDeep, self.peek_span()));
        }
        Ok(())
    }

    /// The end of a statement or item: a line end, `;`, `}` or the end.
    fn end_of_statement(&mut self, expected: &'static str) -> PResult<()> {
        match self.toks.get(self.pos).map(|t| &t.tok) {
            None | Some(Tok::Punct(Punct::RBrace)) => Ok(()),
            Some(Tok::Newline) | Some(Tok::Punct(Punct::Semi)) => {
                self.pos += 1;
                Ok(())
            }
            _ => self.unexpected(expected),
        }
    }

    fn skip_separators(&mut self) {
        while matches!(
            self.toks.get(self.pos).map(|t| &t.tok),
            Some(Tok::Newline) | Some(Tok::Punct(Punct::Semi))
        ) {
            self.pos += 1;
        }
    }

    fn file(&mut self) -> PResult<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            self.skip_separators();
            if self.toks.get(self.pos).is_none() {
                return Ok(items);
            }
            items.push(self.item()?);
            self.end_of_statement("the end of the line after an item")?;
        }
    }

    fn item(&mut self) -> PResult<Item> {
        if self.eat_kw("filter").is_some() {
            let span = self.peek_span();
            return match self.peek().cloned() {
                Some(Tok::Str(text)) => {
                    self.pos += 1;
                    Ok(Item::Filter {
                        text,
                        text_span: Span::new(span.start + 1, span.end - 1),
                    })
                }
                _ => self.unexpected("a quoted pcap-filter expression"),
            };
        }
        if self.eat_kw("region").is_some() {
            let name = self.ident("a region name")?;
            self.expect(Punct::Colon, "`:` and the region's type")?;
            let ty = match self.peek() {
                Some(t) if is_kw(t, "bytes") => RegionType::Bytes,
                Some(t) if is_kw(t, "u16") => RegionType::Array { elem: 2 },
                Some(t) if is_kw(t, "u32") => RegionType::Array { elem: 4 },
                Some(t) if is_kw(t, "u64") => RegionType::Array { elem: 8 },
                _ => return self.unexpected("a region type: bytes, u16, u32 or u64"),
            };
            self.pos += 1;
            self.expect(Punct::LBracket, "`[` and the number of elements")?;
            let (len, len_span) = self.number("the number of elements")?;
            self.expect(Punct::RBracket, "`]`")?;
            let writable = if self.eat_kw("writable").is_some() {
                true
            } else {
                self.eat_kw("readonly");
                false
            };
            return Ok(Item::Region {
                name,
                ty,
                len,
                len_span,
                writable,
            });
        }
        if self.eat_kw("counter").is_some() {
            let mut names = alloc::vec![self.ident("a counter name")?];
            while self.eat(Punct::Comma) {
                self.skip_newlines();
                names.push(self.ident("a counter name")?);
            }
            return Ok(Item::Counter(names));
        }
        if self.eat_kw("const").is_some() {
            let name = self.ident("a constant name")?;
            self.expect(Punct::Assign, "`=` and the constant's value")?;
            let value = self.expr()?;
            return Ok(Item::Const { name, value });
        }
        if let Some(start) = self.eat_kw("fallback") {
            let verdict = self.verdict("`deliver` or `consume`")?;
            return Ok(Item::Fallback {
                verdict,
                span: Span::new(start.start, self.prev_end()),
            });
        }
        if let Some(start) = self.eat_kw("handler") {
            let body = self.block()?;
            return Ok(Item::Handler {
                span: start.to(body.span),
                body,
            });
        }
        self.unexpected("`filter`, `region`, `counter`, `const`, `fallback` or `handler`")
    }

    fn verdict(&mut self, expected: &'static str) -> PResult<Verdict> {
        if self.eat_kw("deliver").is_some() {
            Ok(Verdict::Deliver)
        } else if self.eat_kw("consume").is_some() {
            Ok(Verdict::Consume)
        } else {
            self.unexpected(expected)
        }
    }

    fn block(&mut self) -> PResult<Block> {
        self.enter()?;
        let start = self.expect(Punct::LBrace, "`{`")?;
        let saved = core::mem::replace(&mut self.nested, 0);
        let mut stmts = Vec::new();
        loop {
            self.skip_separators();
            match self.toks.get(self.pos).map(|t| &t.tok) {
                Some(Tok::Punct(Punct::RBrace)) => break,
                None => {
                    self.nested = saved;
                    return self.unexpected("`}`");
                }
                _ => {}
            }
            stmts.push(self.stmt()?);
            self.end_of_statement("the end of the line after a statement")?;
        }
        let end = self.toks[self.pos].span;
        self.pos += 1;
        self.nested = saved;
        self.depth -= 1;
        Ok(Block {
            stmts,
            span: start.to(end),
        })
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        let start = self.peek_span();
        if self.eat_kw("let").is_some() {
            let name = self.ident("a variable name")?;
            self.expect(Punct::Assign, "`=` and the variable's value")?;
            let value = self.expr()?;
            return Ok(Stmt::Let { name, value });
        }
        if self.eat_kw("if").is_some() {
            return self.if_rest(start);
        }
        if self.eat_kw("for").is_some() {
            let var = self.ident("the loop variable")?;
            if self.eat_kw("in").is_none() {
                return self.unexpected("`in`");
            }
            let s = self.expr()?;
            self.expect(Punct::DotDot, "`..` and the end of the range")?;
            let e = self.expr()?;
            let body = self.block()?;
            return Ok(Stmt::For {
                var,
                start: s,
                end: e,
                span: start.to(body.span),
                body,
            });
        }
        if let Some(s) = self.eat_kw("break") {
            return Ok(Stmt::Break(s));
        }
        if let Some(s) = self.eat_kw("continue") {
            return Ok(Stmt::Continue(s));
        }
        if self.eat_kw("return").is_some() {
            let v = self.verdict("a verdict: `consume` or `deliver`")?;
            return Ok(Stmt::Return(v, Span::new(start.start, self.prev_end())));
        }
        let target = self.expr()?;
        let op = match self.peek() {
            Some(Tok::Punct(Punct::Assign)) => Some(None),
            Some(Tok::Punct(Punct::PlusAssign)) => Some(Some(BinOp::Add)),
            Some(Tok::Punct(Punct::MinusAssign)) => Some(Some(BinOp::Sub)),
            Some(Tok::Punct(Punct::AmpAssign)) => Some(Some(BinOp::And)),
            Some(Tok::Punct(Punct::PipeAssign)) => Some(Some(BinOp::Or)),
            Some(Tok::Punct(Punct::CaretAssign)) => Some(Some(BinOp::Xor)),
            _ => None,
        };
        match op {
            Some(op) => {
                self.pos += 1;
                self.skip_newlines();
                let value = self.expr()?;
                Ok(Stmt::Assign {
                    span: target.span.to(value.span),
                    target,
                    op,
                    value,
                })
            }
            None => Ok(Stmt::Expr(target)),
        }
    }

    fn if_rest(&mut self, start: Span) -> PResult<Stmt> {
        let cond = self.expr()?;
        let then = self.block()?;
        // `else` may follow on the next line.
        let save = self.pos;
        self.skip_newlines();
        let els = if self.eat_kw("else").is_some() {
            let s = self.peek_span();
            if self.eat_kw("if").is_some() {
                self.enter()?;
                let inner = self.if_rest(s)?;
                self.depth -= 1;
                let span = inner.span();
                Some(Block {
                    stmts: alloc::vec![inner],
                    span,
                })
            } else {
                Some(self.block()?)
            }
        } else {
            self.pos = save;
            None
        };
        let end = els.as_ref().map_or(then.span, |b| b.span);
        Ok(Stmt::If {
            cond,
            then,
            els,
            span: start.to(end),
        })
    }

    pub fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = self.or_expr();
        self.depth -= 1;
        e
    }

    fn after_operator(&mut self) {
        self.skip_newlines();
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut l = self.and_expr()?;
        while self.eat(Punct::OrOr) {
            self.after_operator();
            let r = self.and_expr()?;
            l = Expr {
                span: l.span.to(r.span),
                kind: ExprKind::OrElse(Box::new(l), Box::new(r)),
            };
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut l = self.cmp_expr()?;
        while self.eat(Punct::AndAnd) {
            self.after_operator();
            let r = self.cmp_expr()?;
            l = Expr {
                span: l.span.to(r.span),
                kind: ExprKind::AndAlso(Box::new(l), Box::new(r)),
            };
        }
        Ok(l)
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        Some(match self.peek()? {
            Tok::Punct(Punct::Eq) => CmpOp::Eq,
            Tok::Punct(Punct::Ne) => CmpOp::Ne,
            Tok::Punct(Punct::Lt) => CmpOp::Lt,
            Tok::Punct(Punct::Le) => CmpOp::Le,
            Tok::Punct(Punct::Gt) => CmpOp::Gt,
            Tok::Punct(Punct::Ge) => CmpOp::Ge,
            _ => return None,
        })
    }

    fn cmp_expr(&mut self) -> PResult<Expr> {
        let l = self.binary(0)?;
        let Some(op) = self.cmp_op() else {
            return Ok(l);
        };
        self.pos += 1;
        self.after_operator();
        let r = self.binary(0)?;
        if self.cmp_op().is_some() {
            return self
                .unexpected("the end of the comparison (comparisons do not chain: use `&&`)");
        }
        Ok(Expr {
            span: l.span.to(r.span),
            kind: ExprKind::Cmp(op, Box::new(l), Box::new(r)),
        })
    }

    /// Binary operators of precedence `level` and tighter.
    fn binary(&mut self, level: usize) -> PResult<Expr> {
        const LEVELS: &[&[(Punct, BinOp)]] = &[
            &[(Punct::Pipe, BinOp::Or)],
            &[(Punct::Caret, BinOp::Xor)],
            &[(Punct::Amp, BinOp::And)],
            &[(Punct::Shl, BinOp::Shl), (Punct::Shr, BinOp::Shr)],
            &[(Punct::Plus, BinOp::Add), (Punct::Minus, BinOp::Sub)],
            &[
                (Punct::Star, BinOp::Mul),
                (Punct::Slash, BinOp::Div),
                (Punct::Percent, BinOp::Mod),
            ],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut l = self.binary(level + 1)?;
        loop {
            let Some(Tok::Punct(p)) = self.peek().cloned() else {
                return Ok(l);
            };
            let Some(&(_, op)) = LEVELS[level].iter().find(|(q, _)| *q == p) else {
                return Ok(l);
            };
            self.pos += 1;
            self.after_operator();
            let r = self.binary(level + 1)?;
            l = Expr {
                span: l.span.to(r.span),
                kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            };
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        let start = self.peek_span();
        if self.eat(Punct::Bang) {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr {
                span: start.to(e.span),
                kind: ExprKind::Not(Box::new(e)),
            });
        }
        if self.peek() == Some(&Tok::Punct(Punct::Minus)) {
            return self.unexpected("a value (numbers are unsigned: there is no unary minus)");
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat(Punct::Dot) {
                let field = self.ident("a field or protocol name")?;
                e = Expr {
                    span: e.span.to(field.span),
                    kind: ExprKind::Field(Box::new(e), field),
                };
            } else if self.peek() == Some(&Tok::Punct(Punct::LBracket)) {
                self.pos += 1;
                self.nested += 1;
                let index = self.expr();
                let index = match index {
                    Ok(i) => i,
                    Err(err) => {
                        self.nested -= 1;
                        return Err(err);
                    }
                };
                let size = if self.eat(Punct::Colon) {
                    match self.number("an access size: 1, 2, 4 or 8") {
                        Ok(s) => Some(s),
                        Err(err) => {
                            self.nested -= 1;
                            return Err(err);
                        }
                    }
                } else {
                    None
                };
                let close = self.expect(Punct::RBracket, "`]`");
                self.nested -= 1;
                let close = close?;
                e = Expr {
                    span: e.span.to(close),
                    kind: ExprKind::Index {
                        base: Box::new(e),
                        index: Box::new(index),
                        size,
                    },
                };
            } else if self.peek() == Some(&Tok::Punct(Punct::LParen)) {
                let ExprKind::Name(name) = &e.kind else {
                    return self.unexpected("an operator (only named functions can be called)");
                };
                let func = Ident {
                    name: name.clone(),
                    span: e.span,
                };
                self.pos += 1;
                self.nested += 1;
                let args = self.args();
                self.nested -= 1;
                let (args, close) = args?;
                e = Expr {
                    span: e.span.to(close),
                    kind: ExprKind::Call(func, args),
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn args(&mut self) -> PResult<(Vec<Expr>, Span)> {
        let mut args = Vec::new();
        loop {
            let span = self.peek_span();
            if self.eat(Punct::RParen) {
                return Ok((args, span));
            }
            if !args.is_empty() {
                self.expect(Punct::Comma, "`,` or `)`")?;
                let span = self.peek_span();
                if self.eat(Punct::RParen) {
                    return Ok((args, span));
                }
            }
            args.push(self.expr()?);
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.peek_span();
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr {
                    kind: ExprKind::Num(n),
                    span,
                })
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                let kind = match name.as_str() {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    _ => ExprKind::Name(name),
                };
                Ok(Expr { kind, span })
            }
            Some(Tok::Punct(Punct::LParen)) => {
                self.pos += 1;
                self.nested += 1;
                let e = self.expr();
                let close = e.and_then(|e| Ok((e, self.expect(Punct::RParen, "`)`")?)));
                self.nested -= 1;
                let (mut e, close) = close?;
                e.span = span.to(close);
                Ok(e)
            }
            _ => self.unexpected("a value: a number, a name, a field such as `udp.dport`, or `(`"),
        }
    }
}
