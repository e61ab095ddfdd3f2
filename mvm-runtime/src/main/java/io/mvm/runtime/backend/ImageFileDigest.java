package io.mvm.runtime.backend;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The sha256 of one guest image file a VM booted from, with the file's identity at that moment
 * ({@code dev:ino:size:mtime:ctime}). A wake compares identities first, the way git's index does:
 * the image builder replaces files by rename (new inode) and any write changes ctime, so an equal
 * identity means the same bytes and the file need not be read again; only a different identity
 * costs a re-hash, and then the digest decides.
 *
 * @param identity null when unknown (handles written before it was recorded): always re-hashed
 */
public record ImageFileDigest(String sha256, String identity) {

    @JsonCreator(mode = JsonCreator.Mode.PROPERTIES)
    public ImageFileDigest(@JsonProperty("sha256") String sha256, @JsonProperty("identity") String identity) {
        this.sha256 = sha256;
        this.identity = identity;
    }

    /** Handles written before identities were recorded hold the bare hex digest. */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static ImageFileDigest ofDigestOnly(String sha256) {
        return new ImageFileDigest(sha256, null);
    }
}
