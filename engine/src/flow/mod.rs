//! The flow model: parsing Kestra-style YAML with positions, validation,
//! expressions and the task graph.
