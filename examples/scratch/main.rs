use rel::syntax::ast::*;
fn main() {
    println!("Expr {} ExprKind {} Item {} ItemKind {} Entry {} Attr {} StrLit {} StrPart {} Ident {} Path {} Span {}",
      std::mem::size_of::<Expr>(), std::mem::size_of::<ExprKind>(), std::mem::size_of::<Item>(), std::mem::size_of::<ItemKind>(),
      std::mem::size_of::<Entry>(), std::mem::size_of::<Attr>(), std::mem::size_of::<StrLit>(), std::mem::size_of::<StrPart>(),
      std::mem::size_of::<Ident>(), std::mem::size_of::<Path>(), std::mem::size_of::<rel::source::Span>());
}
