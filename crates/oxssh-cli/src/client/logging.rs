//! `-v` logging in OpenSSH's shape: `debug1:`/`debug2:`/`debug3:` prefixes for our
//! info/debug/trace events, plain lines for warnings and errors; to stderr or `-E` file.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as OpenSSH's `ssh -v` does.
#[derive(Debug, Clone, Copy)]
pub struct OpensshFormat;

impl<S, N> FormatEvent<S, N> for OpensshFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let prefix = match *event.metadata().level() {
            Level::INFO => "debug1: ",
            Level::DEBUG => "debug2: ",
            Level::TRACE => "debug3: ",
            Level::WARN | Level::ERROR => "",
        };
        write!(writer, "{prefix}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
