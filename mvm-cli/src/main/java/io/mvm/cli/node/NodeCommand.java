package io.mvm.cli.node;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.NodeId;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm node list} and {@code mvm node token create|list|revoke}. */
@Command(name = "node", description = "Hosts in the fleet: list them, mint tokens for their agents.",
        mixinStandardHelpOptions = true, subcommands = {NodeCommand.ListNodes.class, NodeCommand.Approve.class, NodeCommand.Token.class})
public final class NodeCommand {

    @Command(name = "list", description = "List nodes with capacity, allocation, last heartbeat and status.")
    static final class ListNodes implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @picocli.CommandLine.Option(names = "--label", paramLabel = "KEY=VALUE",
                description = "Only nodes with this label (repeatable: all must match).")
        java.util.List<String> labels = new java.util.ArrayList<>();

        private String labelQuery() {
            StringBuilder q = new StringBuilder();
            for (String l : labels) {
                q.append(q.isEmpty() ? "?" : "&").append("label=")
                        .append(java.net.URLEncoder.encode(l, java.nio.charset.StandardCharsets.UTF_8));
            }
            return q.toString();
        }

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/nodes" + labelQuery(), listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("NODE", "STATUS", "VCPUS", "MEMORY MIB", "INSTANCES", "ACCEL", "UNDERLAY",
                    "LAST HEARTBEAT", "ORPHANS");
            for (JsonNode n : list.get("items")) {
                JsonNode cap = n.get("capacity");
                JsonNode used = n.get("allocated");
                table.row(n.get("id").asText(), n.get("status").asText(),
                        used.get("vcpus").asInt() + "/" + cap.get("vcpus").asInt(),
                        used.get("memory_mib").asLong() + "/" + cap.get("memory_mib").asLong(),
                        n.get("instances").asInt(), n.get("accelerator").asText(),
                        n.hasNonNull("underlay_address") ? n.get("underlay_address").asText() : "-",
                        n.get("last_heartbeat").isNull() ? "-" : n.get("last_heartbeat").asText(),
                        n.path("orphans").size());
            }
            table.print(out);
            for (JsonNode n : list.get("items")) {
                if (n.hasNonNull("pending_claim")) {
                    out.println("node " + n.get("id").asText() + " claims " + n.get("pending_claim").get("vcpus").asInt()
                            + " vCPUs, " + n.get("pending_claim").get("memory_mib").asLong()
                            + " MiB: waiting for 'mvm node approve " + n.get("id").asText() + "'");
                }
                for (JsonNode o : n.path("orphans")) {
                    out.println("orphan on " + n.get("id").asText() + ": " + o.get("path").asText() + " ("
                            + o.get("instance_id").asText() + ", " + o.get("bytes").asLong() / (1024 * 1024) + " MiB, "
                            + o.get("reason").asText() + ")");
                }
            }
            out.flush();
        }
    }

    @Command(name = "approve", description = "Approve the bigger capacity a node claims (it gets only its approved"
            + " capacity until then; 'mvm node list' shows waiting claims).")
    static final class Approve implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @picocli.CommandLine.Parameters(paramLabel = "NODE") String node;

        @Override
        public void run() {
            JsonNode n = client.client().post("v1/nodes/" + NodeId.of(node) + "/approve-capacity", Map.of());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, n);
                return;
            }
            JsonNode cap = n.get("capacity");
            out.println("node " + node + " approved: " + cap.get("vcpus").asInt() + " vCPUs, "
                    + cap.get("memory_mib").asLong() + " MiB memory, " + cap.get("disk_mib").asLong() + " MiB disk");
            out.flush();
        }
    }

    @Command(name = "token", description = "Node tokens (what an agent authenticates with).",
            mixinStandardHelpOptions = true, subcommands = {CreateToken.class, ListTokens.class, RevokeToken.class})
    static final class Token {}

    @Command(name = "list", description = "List node tokens: id, node, when created and when revoked (never a secret).")
    static final class ListTokens implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/node-tokens", listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("ID", "NODE", "CREATED", "REVOKED");
            for (JsonNode t : list.get("items")) {
                table.row(t.get("id").asText(), t.get("node_id").asText(), t.get("created_at").asText(),
                        t.get("revoked_at").isNull() ? "-" : t.get("revoked_at").asText());
            }
            table.print(out);
        }
    }

    @Command(name = "revoke", description = "Revoke a node token by its id (from 'mvm node token list'); the node's "
            + "agent is refused from its next request. Its VMs keep running until the node is lost.")
    static final class RevokeToken implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @picocli.CommandLine.Parameters(paramLabel = "TOKEN-ID", description = "The token's id, not the token itself.")
        String id;

        @Override
        public void run() {
            if (id.isBlank() || !id.matches("[A-Za-z0-9-]{1,64}")) {
                throw io.mvm.model.MvmException.invalid("a token id is letters, digits and '-' (see 'mvm node token list'): "
                        + (id.length() > 20 ? id.substring(0, 8) + "…" : id));
            }
            client.client().delete("v1/node-tokens/" + id);
            PrintWriter out = spec.commandLine().getOut();
            out.println("node token " + id + " revoked");
            out.flush();
        }
    }

    @Command(name = "create", description = "Create a token for one node (admin only). It is printed once and stored"
            + " hashed; it may only register, heartbeat, read and report that node.")
    static final class CreateToken implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Option(names = "--node", paramLabel = "ID",
                description = "The node the token is for (default: this host's name, as 'mvm agent serve' uses).")
        String node;

        @Override
        public void run() {
            NodeId id = NodeId.of(node != null ? node : localNodeId());
            JsonNode issued = client.client().post("v1/node-tokens", Map.of("node_id", id.value()));
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, issued);
                return;
            }
            out.println(issued.get("token").asText());
            out.flush();
            spec.commandLine().getErr().println("token for node " + id + " (shown once; pass it to 'mvm agent serve'"
                    + " with --node-id " + id + (issued.path("tls").asBoolean(false)
                    ? " --ca-fingerprint " + issued.path("ca_fingerprint").asText() : "") + ")");
            spec.commandLine().getErr().flush();
        }
    }

    /** The host name made into a node id (lower case, only letters, digits, '.' and '-'). */
    static String localNodeId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "node";
        }
        String id = host.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "-").replaceAll("^[^a-z0-9]+", "");
        return id.isEmpty() ? "node" : id.substring(0, Math.min(63, id.length()));
    }
}
