//! What each IB error code means to tickpipe (issue #11, item 5). One table, so the
//! venue and the market-data source agree on it.

/// The class of an IB `error` message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IbErrorClass {
    /// 201: the order is rejected; IB's text says why.
    Rejected,
    /// 202: the order is cancelled.
    Cancelled,
    /// 103: a duplicate order id. Resend once under a fresh id, never twice.
    DuplicateId,
    /// 10147 / 10148: the order to cancel is not found, or cannot be cancelled now.
    CancelRejected,
    /// 1100: TWS lost IB's servers; 2110: TWS and the server are cut off.
    ConnectivityLost,
    /// 1101 (data lost: subscriptions must be renewed) / 1102 (data kept): back.
    ConnectivityRestored,
    /// 2103 / 2105 / 2157: a market-data farm is down: its symbols go stale.
    DataFarmDown,
    /// 2104 / 2106 / 2158: a farm is fine; logged and ignored.
    Informational,
    /// Anything else: counted, its text kept; no state changes on it alone (IB follows an
    /// order's error with the order's status).
    Other,
}

/// The class of `code`.
pub fn classify(code: i32) -> IbErrorClass {
    match code {
        201 => IbErrorClass::Rejected,
        202 => IbErrorClass::Cancelled,
        103 => IbErrorClass::DuplicateId,
        10147 | 10148 => IbErrorClass::CancelRejected,
        1100 | 2110 => IbErrorClass::ConnectivityLost,
        1101 | 1102 => IbErrorClass::ConnectivityRestored,
        2103 | 2105 | 2157 => IbErrorClass::DataFarmDown,
        2104 | 2106 | 2158 => IbErrorClass::Informational,
        _ => IbErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_issue_has_its_class() {
        use IbErrorClass::*;
        for (code, class) in [
            (201, Rejected),
            (202, Cancelled),
            (103, DuplicateId),
            (10147, CancelRejected),
            (10148, CancelRejected),
            (1100, ConnectivityLost),
            (2110, ConnectivityLost),
            (1101, ConnectivityRestored),
            (1102, ConnectivityRestored),
            (2103, DataFarmDown),
            (2105, DataFarmDown),
            (2157, DataFarmDown),
            (2104, Informational),
            (2106, Informational),
            (2158, Informational),
            (399, Other),
        ] {
            assert_eq!(classify(code), class, "{code}");
        }
    }
}
