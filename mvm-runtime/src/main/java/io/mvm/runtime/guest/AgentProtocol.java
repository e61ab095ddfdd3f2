package io.mvm.runtime.guest;

import io.mvm.runtime.guest.AgentRequest.AgentField;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Line framing of the guest agent protocol (docs/guest-protocol.md):
 * <pre>
 *   request:  mvm VERSION ID VERB [KEY=BASE64]... .
 *   answer:   mvm VERSION ID ok [KEY=BASE64]... .
 *             mvm VERSION ID error message=BASE64 .
 * </pre>
 * Every value is base64 so no value can contain a space or a newline, and a busybox shell can
 * take a line apart with word splitting. The final {@code .} marks a complete line: a host that
 * disconnects mid-write leaves a fragment in the guest, which the next host's leading newline
 * terminates and the guest then ignores. The id lets the host drop a late answer to a request it
 * already gave up on.
 */
public final class AgentProtocol {
    public static final String MAGIC = "mvm";
    public static final String END = ".";
    private static final Pattern KEY = Pattern.compile("[a-z][a-z0-9-]*");
    private static final Pattern VERB = Pattern.compile("[a-z][a-z-]*");

    private AgentProtocol() {}

    public static String encodeRequest(int version, long id, AgentRequest request) {
        return encode(version, id, request.verb(), request.fields());
    }

    /** The guest's side of the framing; the host uses it only in tests. */
    public static String encodeAnswer(int version, long id, boolean ok, List<AgentField> fields) {
        return encode(version, id, ok ? "ok" : "error", fields);
    }

    private static String encode(int version, long id, String word, List<AgentField> fields) {
        if (id < 0) {
            throw new IllegalArgumentException("request ids are not negative");
        }
        StringBuilder line = new StringBuilder(MAGIC).append(' ').append(version).append(' ').append(id).append(' ').append(word);
        Base64.Encoder base64 = Base64.getEncoder();
        for (AgentField field : fields) {
            if (!KEY.matcher(field.key()).matches()) {
                throw new IllegalArgumentException("bad field name " + field.key());
            }
            line.append(' ').append(field.key()).append('=').append(base64.encodeToString(field.value()));
        }
        return line.append(' ').append(END).append('\n').toString();
    }

    /**
     * Parses one answer line (without its newline). The version is returned as sent, so the caller
     * can report a mismatch clearly instead of misreading fields.
     */
    public static AgentAnswer decodeAnswer(String line) {
        String[] all = line.strip().split(" ");
        if (all.length < 5 || !MAGIC.equals(all[0]) || !END.equals(all[all.length - 1])) {
            throw new GuestChannelException("guest agent sent a malformed or incomplete line: " + abbreviate(line));
        }
        String[] words = java.util.Arrays.copyOf(all, all.length - 1);
        int version;
        long id;
        try {
            version = Integer.parseInt(words[1]);
            id = Long.parseLong(words[2]);
        } catch (NumberFormatException e) {
            throw new GuestChannelException("guest agent sent a malformed header: " + abbreviate(line));
        }
        String status = words[3];
        if (!VERB.matcher(status).matches()) {
            throw new GuestChannelException("guest agent sent a malformed status: " + abbreviate(line));
        }
        List<AgentField> fields = new ArrayList<>();
        Base64.Decoder base64 = Base64.getDecoder();
        for (int i = 4; i < words.length; i++) {
            int eq = words[i].indexOf('=');
            if (eq <= 0) {
                throw new GuestChannelException("guest agent sent a field without a value: " + abbreviate(words[i]));
            }
            try {
                fields.add(new AgentField(words[i].substring(0, eq), base64.decode(words[i].substring(eq + 1))));
            } catch (IllegalArgumentException e) {
                throw new GuestChannelException("guest agent sent a field that is not base64: " + abbreviate(words[i]));
            }
        }
        return new AgentAnswer(version, id, "ok".equals(status), status, List.copyOf(fields));
    }

    private static String abbreviate(String text) {
        return text.length() <= 120 ? text : text.substring(0, 120) + "...";
    }

    /** One decoded answer. */
    public record AgentAnswer(int version, long id, boolean ok, String status, List<AgentField> fields) {

        public Optional<byte[]> bytes(String key) {
            return fields.stream().filter(f -> f.key().equals(key)).findFirst().map(AgentField::value);
        }

        public Optional<String> text(String key) {
            return bytes(key).map(b -> new String(b, StandardCharsets.UTF_8));
        }

        /** A field the verb must carry; its absence means the guest does not speak this protocol. */
        public String required(String key) {
            return text(key).orElseThrow(() -> new GuestChannelException("guest agent answer lacks field '" + key + "'"));
        }
    }
}
