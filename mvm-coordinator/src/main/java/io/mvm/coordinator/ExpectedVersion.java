package io.mvm.coordinator;

/** The version a write was based on: any (no If-Match) or exactly one. */
public sealed interface ExpectedVersion {
    ExpectedVersion ANY = new Any();

    record Any() implements ExpectedVersion {}

    record Exactly(long version) implements ExpectedVersion {}
}
