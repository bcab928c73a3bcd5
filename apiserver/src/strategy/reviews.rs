//! The review resources: a POST asks a question and is answered, not stored
//! (`crate::reviews`).

use super::{CreateAction, Strategy};
use crate::reviews::Review;

pub struct Reviews(Review);

pub static TOKEN: Reviews = Reviews(Review::Token);
pub static SELF_SUBJECT: Reviews = Reviews(Review::SelfSubject);
pub static SUBJECT_ACCESS: Reviews = Reviews(Review::SubjectAccess);
pub static SELF_SUBJECT_ACCESS: Reviews = Reviews(Review::SelfSubjectAccess);
pub static SELF_SUBJECT_RULES: Reviews = Reviews(Review::SelfSubjectRules);

impl Strategy for Reviews {
    fn on_create(&self, subresource: Option<&str>) -> CreateAction {
        match subresource {
            None => CreateAction::Review(self.0),
            Some(_) => CreateAction::NotAllowed,
        }
    }
}
