//! The structural schema of a custom resource version (`openAPIV3Schema`): validation,
//! defaulting and pruning of its objects, as upstream's apiextensions-apiserver does them.
