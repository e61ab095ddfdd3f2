package io.mvm.cli.token;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm token create|list|revoke}: tenant tokens (with a role) and metrics tokens. Node tokens: {@code mvm node token}. */
@Command(name = "token", description = "Tenant and metrics tokens (node tokens: 'mvm node token').",
        subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Revoke.class})
public final class TokenCommand {

    @Command(name = "create", description = {"Create a token, printed once and stored hashed.",
            "--tenant T --role tenant-admin|tenant-read: acts within tenant T only;",
            "--metrics: reads /metrics only (for Prometheus)."})
    static final class Create implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Option(names = "--tenant", paramLabel = "TENANT") String tenant;
        @Option(names = "--role", paramLabel = "ROLE", description = "tenant-admin or tenant-read.") String role;
        @Option(names = "--metrics", description = "A metrics-only token.") boolean metrics;
        @Option(names = "--name", paramLabel = "NAME", description = "A label for audit lines.") String name;

        @Override
        public void run() {
            Map<String, Object> body = new LinkedHashMap<>();
            if (metrics == (tenant != null)) {
                throw MvmException.invalid("give either --tenant T --role R, or --metrics");
            }
            if (metrics) {
                body.put("kind", "metrics");
            } else {
                if (role == null) {
                    throw MvmException.invalid("--role is required with --tenant: tenant-admin or tenant-read");
                }
                body.put("kind", "tenant");
                body.put("tenant", TenantId.of(tenant).value());
                body.put("role", role);
            }
            if (name != null) {
                body.put("name", name);
            }
            JsonNode issued = client.client().post("v1/tokens", body);
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, issued);
                return;
            }
            out.println(issued.get("token").asText());
            out.flush();
            spec.commandLine().getErr().println("token " + issued.get("id").asText() + " ("
                    + (metrics ? "metrics" : "tenant " + tenant + ", " + role) + "; shown once: use it as MVM_TOKEN)");
            spec.commandLine().getErr().flush();
        }
    }

    @Command(name = "list", description = "List tenant and metrics tokens (never a secret).")
    static final class ListTokens implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/tokens", listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("ID", "KIND", "NAME", "TENANT", "ROLE", "CREATED", "REVOKED");
            for (JsonNode t : list.get("items")) {
                table.row(t.get("id").asText(), t.get("kind").asText(), t.get("name").asText(), text(t, "tenant"),
                        text(t, "role"), t.get("created_at").asText(), text(t, "revoked_at"));
            }
            table.print(out);
        }

        private static String text(JsonNode n, String f) {
            return n.hasNonNull(f) ? n.get(f).asText() : "-";
        }
    }

    @Command(name = "revoke", description = "Revoke a token by its id (refused from its next request).")
    static final class Revoke implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TOKEN-ID", description = "The token's id, not the token itself.") String id;

        @Override
        public void run() {
            if (!id.matches("[A-Za-z0-9-]{1,64}")) {
                throw MvmException.invalid("a token id is letters, digits and '-' (see 'mvm token list')");
            }
            client.client().delete("v1/tokens/" + id);
            PrintWriter out = spec.commandLine().getOut();
            out.println("token " + id + " revoked");
            out.flush();
        }
    }
}
