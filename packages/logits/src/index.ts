/** Placeholder entry: the methods of this package land in the following commits. */
export {};
