package io.mvm.runtime.template.oci;

import io.mvm.runtime.template.TemplateBuildException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A content digest as OCI writes it, {@code sha256:<64 hex>}. Only sha256 is accepted: it is what
 * every image tool writes, and a strict pattern means a digest can never smuggle a path into
 * {@code blobs/<algorithm>/<hex>}.
 */
public record OciDigest(String hex) {
    private static final Pattern SHA256 = Pattern.compile("sha256:([0-9a-f]{64})");

    public static OciDigest parse(String text, String what) {
        Matcher m = SHA256.matcher(text == null ? "" : text);
        if (!m.matches()) {
            throw new TemplateBuildException(what + " has digest '" + text + "'; mvm reads sha256 digests only");
        }
        return new OciDigest(m.group(1));
    }

    @Override
    public String toString() {
        return "sha256:" + hex;
    }
}
