//! The session schedule: the start-of-day sequence, the closing auction and end of day,
//! and the events placed at fixed points of the continuous session.

use super::encode::directory;
use super::{LISTING, MPIDS, Session};
use crate::codec::itch::Message;

pub(super) const OPEN_NS: u64 = 34_200_000_000_000; // 09:30
const CLOSE_IMBALANCE_NS: u64 = 57_000_000_000_000; // 15:50
const MWCB_NS: u64 = 57_300_000_000_000; // 15:55
const CLOSE_NS: u64 = 57_600_000_000_000; // 16:00
const END_SYSTEM_NS: u64 = 72_000_000_000_000; // 20:00
const END_MESSAGES_NS: u64 = 72_300_000_000_000; // 20:05

/// Events placed at fixed points of the continuous session (per mille of its random
/// messages), so that every spec large enough has them, in this order.
#[derive(Copy, Clone, Debug)]
pub(super) enum Scheduled {
    /// `N`: retail interest appears in one stock.
    RetailInterest,
    /// `h` on BX: an operational halt elsewhere; Nasdaq keeps trading.
    BxHalt,
    BxResume,
    /// `H` `H` (LULD pause) for the halted stock; its book goes quiet.
    Halt,
    /// `H` `Q`, `J` auction collar, `I` halt-cross imbalance.
    QuoteOnly,
    /// `Q` halt cross, `H` `T`: the stock trades again.
    Resume,
    /// `B`: the latest execution in one stock is broken.
    BreakTrade,
}

pub(super) const SCHEDULE: [(u64, Scheduled); 8] = [
    (100, Scheduled::RetailInterest),
    (200, Scheduled::BxHalt),
    (250, Scheduled::BxResume),
    (300, Scheduled::Halt),
    (330, Scheduled::QuoteOnly),
    (345, Scheduled::Resume),
    (500, Scheduled::BreakTrade),
    (700, Scheduled::RetailInterest),
];

impl Scheduled {
    pub(super) const fn messages(self) -> u64 {
        match self {
            Scheduled::QuoteOnly => 3,
            Scheduled::Resume => 2,
            _ => 1,
        }
    }
}

impl Session {
    pub(super) fn open(&mut self) {
        let n = self.stocks.len();
        self.system_event(b'O');
        // Circuit-breaker levels: 7%, 13% and 20% below an S&P 500 close of 6000.
        self.put(Message::MwcbDeclineLevel {
            header: self.header(None),
            level_1: 558_000_000_000,
            level_2: 522_000_000_000,
            level_3: 480_000_000_000,
        });
        for s in 0..n {
            let name = self.stocks[s].name;
            self.put(directory(
                self.header(Some(s)),
                &name,
                b'Q',
                b'P',
                b'N',
                b'1',
            ));
        }
        self.put(directory(
            self.listing_header(),
            &LISTING,
            b'S',
            b'T',
            b'Y',
            b'2',
        ));
        for s in 0..n {
            self.trading_action(s, b'T', b"    ");
        }
        self.put(Message::StockTradingAction {
            header: self.listing_header(),
            stock: &LISTING,
            trading_state: b'H',
            reserved: b' ',
            reason: b"IPO1",
        });
        for s in 0..n {
            let name = self.stocks[s].name;
            self.put(Message::RegShoRestriction {
                header: self.header(Some(s)),
                stock: &name,
                reg_sho_action: b'0',
            });
        }
        for s in 0..n {
            let name = self.stocks[s].name;
            for (k, primary) in [(s, b'Y'), (s + 3, b'N')] {
                self.put(Message::MarketParticipantPosition {
                    header: self.header(Some(s)),
                    attribution: MPIDS[k % MPIDS.len()],
                    stock: &name,
                    primary_market_maker: primary,
                    market_maker_mode: b'N',
                    market_participant_state: b'A',
                });
            }
        }
        self.put(Message::IpoQuotingPeriodUpdate {
            header: self.listing_header(),
            stock: &LISTING,
            release_time: 43_200, // 12:00:00
            release_qualifier: b'A',
            ipo_price: Self::price(2_500),
        });
        self.tick();
        self.system_event(b'S');
        self.put(Message::DirectListingPriceDiscovery {
            header: self.listing_header(),
            stock: &LISTING,
            open_eligibility: b'N',
            minimum_allowable_price: Self::price(2_000),
            maximum_allowable_price: Self::price(4_500),
            near_execution_price: Self::price(2_600),
            near_execution_time: self.clock,
            lower_price_range_collar: Self::price(2_340),
            upper_price_range_collar: Self::price(2_860),
        });
        let paired: Vec<u64> = (0..n)
            .map(|_| 1_000 * u64::from(50 + self.dice.below(450)))
            .collect();
        for (s, &paired) in paired.iter().enumerate() {
            let at = self.stocks[s].start_cents;
            self.imbalance(s, paired, at, b'O');
        }
        self.tick();
        self.system_event(b'Q');
        for (s, &paired) in paired.iter().enumerate() {
            let at = self.stocks[s].start_cents;
            self.cross(s, paired, at, b'O');
        }
    }

    pub(super) fn close(&mut self) {
        let n = self.stocks.len();
        self.clock = self.clock.max(CLOSE_IMBALANCE_NS);
        let paired: Vec<u64> = (0..n)
            .map(|_| 1_000 * u64::from(200 + self.dice.below(1_800)))
            .collect();
        for (s, &paired) in paired.iter().enumerate() {
            let at = self.stocks[s].mid_cents();
            self.imbalance(s, paired, at, b'C');
        }
        // A level-1 breach at or after 15:25 halts nothing, so the close goes on.
        self.clock = self.clock.max(MWCB_NS);
        self.put(Message::MwcbStatus {
            header: self.header(None),
            breached_level: b'1',
        });
        self.clock = self.clock.max(CLOSE_NS);
        for (s, &paired) in paired.iter().enumerate() {
            let at = self.stocks[s].mid_cents();
            self.cross(s, paired, at, b'C');
        }
        self.tick();
        self.system_event(b'M');
        self.clock = self.clock.max(END_SYSTEM_NS);
        self.system_event(b'E');
        self.clock = self.clock.max(END_MESSAGES_NS);
        self.system_event(b'C');
    }

    pub(super) fn imbalance(&mut self, s: usize, paired: u64, at_cents: i64, cross_type: u8) {
        let imbalance = u64::from(self.dice.below(20)) * 1_000;
        let direction = match (imbalance, self.dice.below(2)) {
            (0, _) => b'N',
            (_, 0) => b'B',
            _ => b'S',
        };
        let near = at_cents + self.dice.between(-3, 3);
        let name = self.stocks[s].name;
        self.put(Message::Noii {
            header: self.header(Some(s)),
            paired_shares: paired,
            imbalance_shares: imbalance,
            imbalance_direction: direction,
            stock: &name,
            far_price: Self::price(near),
            near_price: Self::price(near),
            current_reference_price: Self::price(at_cents),
            cross_type,
            price_variation: b'L',
        });
    }

    pub(super) fn cross(&mut self, s: usize, shares: u64, at_cents: i64, cross_type: u8) {
        let name = self.stocks[s].name;
        let match_number = self.take_match(s);
        self.stocks[s].last_trade_cents = at_cents;
        self.put(Message::CrossTrade {
            header: self.header(Some(s)),
            shares,
            stock: &name,
            cross_price: Self::price(at_cents),
            match_number,
            cross_type,
        });
    }

    /// Writes exactly `budget` random book messages plus every scheduled event.
    pub(super) fn continuous(&mut self, budget: u64) {
        let mut done = 0;
        let mut next = 0;
        loop {
            while let Some(&(at, event)) = SCHEDULE.get(next) {
                if done < at * budget / 1000 {
                    break;
                }
                self.scheduled(event);
                next += 1;
            }
            if done >= budget {
                break;
            }
            match self.step(budget - done) {
                0 => {
                    // Every stock is halted: only the scheduled resume can move on.
                    if let Some(&(_, event)) = SCHEDULE.get(next) {
                        self.scheduled(event);
                        next += 1;
                    }
                }
                written => done += written,
            }
        }
    }

    pub(super) fn scheduled(&mut self, event: Scheduled) {
        self.tick();
        let h = self.halted_stock;
        match event {
            Scheduled::RetailInterest => {
                let s = self.dice.below(self.stocks.len() as u32) as usize;
                let name = self.stocks[s].name;
                let flag = b"BSA"[self.dice.below(3) as usize];
                self.put(Message::Rpii {
                    header: self.header(Some(s)),
                    stock: &name,
                    interest_flag: flag,
                });
            }
            Scheduled::BxHalt | Scheduled::BxResume => {
                let s = self.bx_halted_stock;
                let name = self.stocks[s].name;
                let action = if matches!(event, Scheduled::BxHalt) {
                    b'H'
                } else {
                    b'T'
                };
                self.put(Message::OperationalHalt {
                    header: self.header(Some(s)),
                    stock: &name,
                    market_code: b'B',
                    action,
                });
            }
            Scheduled::Halt => {
                self.stocks[h].halted = true;
                self.trading_action(h, b'H', b"LUDP");
            }
            Scheduled::QuoteOnly => {
                self.trading_action(h, b'Q', b"LUDP");
                let reference = self.stocks[h].mid_cents();
                let band = (reference / 20).max(1);
                let name = self.stocks[h].name;
                self.put(Message::LuldAuctionCollar {
                    header: self.header(Some(h)),
                    stock: &name,
                    reference_price: Self::price(reference),
                    upper_price: Self::price(reference + band),
                    lower_price: Self::price((reference - band).max(1)),
                    extension: 0,
                });
                self.imbalance(h, 20_000, reference, b'H');
            }
            Scheduled::Resume => {
                let at = self.stocks[h].mid_cents();
                self.cross(h, 20_000, at, b'H');
                self.stocks[h].halted = false;
                self.trading_action(h, b'T', b"    ");
            }
            Scheduled::BreakTrade => {
                let s = self.dice.below(self.stocks.len() as u32) as usize;
                let match_number = self.stocks[s].last_match;
                self.put(Message::BrokenTrade {
                    header: self.header(Some(s)),
                    match_number,
                });
            }
        }
    }
}
