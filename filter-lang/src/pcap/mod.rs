//! The pcap-filter (tcpdump) expression language: lexer, parser and the
//! compiler to filter atoms or handler bytecode (in progress).
