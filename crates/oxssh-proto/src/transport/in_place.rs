//! Payloads built in place: the caller writes a payload (channel data read from a file
//! or a pipe) straight into the outgoing packet buffer, where it is then sealed, instead
//! of into a buffer of its own that is copied into the packet.

use super::Transport;
use crate::error::TransportError;

impl Transport {
    /// Sends one payload of at most `max` bytes that `fill` writes in place (into bytes
    /// that hold whatever was there before) and whose length it returns. Writing nothing
    /// (0) or failing sends nothing; the error comes back as the inner `Err`. The bytes
    /// on the wire are those [`Transport::send`] sends for the same payload.
    ///
    /// While a key exchange holds payloads back, or with compression on, the payload is
    /// filled into a buffer of its own and sent as [`Transport::send`] does.
    pub fn send_with<E>(
        &mut self,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<usize, E>, TransportError> {
        self.check_open()?;
        let direct = self.initial_kex_done
            && !self.kex.blocks_sending()
            && self.compression.deflate.is_none();
        if !direct {
            let mut payload = vec![0; max];
            let n = match fill(&mut payload) {
                Ok(n) => n.min(max),
                Err(e) => return Ok(Err(e)),
            };
            if n > 0 {
                payload.truncate(n);
                self.send(&payload)?;
            }
            return Ok(Ok(n));
        }
        let sent = self
            .writer
            .write_packet_with(max, self.provider.random, fill)?;
        if matches!(sent, Ok(n) if n > 0) {
            self.maybe_rekey()?;
        }
        Ok(sent)
    }
}
