"""The ops, one module per family; see `symgraph.ops.base` for the contract."""
