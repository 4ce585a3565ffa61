fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let (tree, diags) = rel::syntax::parse(rel::source::FileId(0), &text);
    print!("{}", rel::syntax::dump::dump(&tree));
    let mut sm = rel::source::SourceMap::new();
    sm.add(path.clone(), rel::source::Origin::Memory, text.clone());
    print!("{}", rel::diagnostic::render::render_human(&sm, &diags, Default::default()));
}
