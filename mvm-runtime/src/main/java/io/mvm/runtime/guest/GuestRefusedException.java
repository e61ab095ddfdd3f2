package io.mvm.runtime.guest;

/**
 * The guest agent answered, with an error or in a protocol version this host does not speak: the
 * channel works and asking again will not help (unlike a missing or broken connection, which a
 * caller may retry).
 */
public final class GuestRefusedException extends GuestChannelException {
    public GuestRefusedException(String message) {
        super(message);
    }
}
