package io.mvm.cli.client;

import io.mvm.model.MvmException;
import java.util.OptionalInt;
import picocli.CommandLine.Option;

/** {@code --limit} for list commands: the CLI pages through a list for the user and stops at N items. */
public final class ListOptions {
    @Option(names = "--limit", paramLabel = "N",
            description = "Show at most N items (default: all of them; the list is fetched page by page).")
    Integer limit;

    public OptionalInt cap() {
        if (limit == null) {
            return OptionalInt.empty();
        }
        if (limit < 1) {
            throw MvmException.invalid("--limit must be at least 1, got " + limit);
        }
        return OptionalInt.of(limit);
    }
}
