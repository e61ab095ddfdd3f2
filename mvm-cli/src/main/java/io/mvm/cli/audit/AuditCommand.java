package io.mvm.cli.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm audit [--tenant T]}: who changed what, oldest first. */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = "Show the audit trail: a tenant's (--tenant) or the cluster's own (node tokens, refused requests"
                + " outside any tenant). Oldest first; admin token needed.")
public final class AuditCommand implements Runnable {
    private static final int PAGE = 1000;

    @Spec CommandSpec spec;
    @Mixin ClientOptions client;

    @Option(names = "--tenant", paramLabel = "TENANT", description = "A tenant's trail instead of the cluster's.")
    String tenant;

    @Option(names = "--after", paramLabel = "SEQ", defaultValue = "0",
            description = "Only entries after this sequence number (default: from the start).")
    long after;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
            description = "At most N entries (default ${DEFAULT-VALUE}; 0 = all).")
    int limit;

    @Override
    public void run() {
        if (after < 0) {
            throw MvmException.invalid("--after must not be negative");
        }
        if (limit < 0) {
            throw MvmException.invalid("--limit must be 0 (all) or more");
        }
        String path = tenant == null ? "v1/audit" : "v1/tenants/" + TenantId.of(tenant).value() + "/audit";
        ArrayNode entries = JsonNodeFactory.instance.arrayNode();
        long cursor = after;
        while (limit == 0 || entries.size() < limit) {
            int want = limit == 0 ? PAGE : Math.min(PAGE, limit - entries.size());
            JsonNode page = client.client().get(path + "?limit=" + want + "&after=" + cursor);
            page.get("entries").forEach(entries::add);
            if (page.get("next_after").isNull()) {
                break;
            }
            cursor = page.get("next_after").asLong();
        }
        PrintWriter out = spec.commandLine().getOut();
        if (client.json) {
            ClientOptions.printJson(out, JsonNodeFactory.instance.objectNode().set("entries", entries));
            return;
        }
        Table table = new Table("SEQ", "AT", "ACTOR", "ACTION", "RESOURCE", "VERSION", "OUTCOME");
        for (JsonNode e : entries) {
            table.row(e.get("seq").asLong(), e.get("at").asText(), e.get("actor").asText(), e.get("action").asText(),
                    e.get("resource").asText(), version(e.get("before_version")) + "→" + version(e.get("after_version")),
                    e.get("outcome").asText());
        }
        table.print(out);
    }

    private static String version(JsonNode v) {
        return v == null || v.isNull() ? "-" : v.asText();
    }
}
