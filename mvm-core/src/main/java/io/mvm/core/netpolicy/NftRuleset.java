package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Optional;

/** mvm's complete nftables state: one table per family, all with the same name. */
public record NftRuleset(String tableName, List<NftTable> tables) {

    public NftRuleset {
        tables = List.copyOf(tables);
    }

    public Optional<NftTable> table(NftFamily family) {
        return tables.stream().filter(t -> t.family() == family).findFirst();
    }

    /**
     * The script for one {@code nft -f}: it declares each table (a no-op if it exists), deletes it
     * and defines it afresh. nft runs a file as one transaction, so the host switches from the old
     * rules to the new ones at once, never shows a half-built table and never accumulates copies.
     */
    public String replaceScript() {
        StringBuilder out = new StringBuilder();
        for (NftTable t : tables) {
            out.append("table ").append(t.family().keyword()).append(' ').append(tableName).append(" {}\n");
            out.append("delete table ").append(t.family().keyword()).append(' ').append(tableName).append('\n');
        }
        for (NftTable t : tables) {
            out.append(t.definition());
        }
        return out.toString();
    }

    /** The script that removes mvm's tables (and nothing else), even when they are already gone. */
    public static String deleteScript(String tableName) {
        StringBuilder out = new StringBuilder();
        for (NftFamily f : NftFamily.values()) {
            out.append("table ").append(f.keyword()).append(' ').append(tableName).append(" {}\n");
            out.append("delete table ").append(f.keyword()).append(' ').append(tableName).append('\n');
        }
        return out.toString();
    }
}
