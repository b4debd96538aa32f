//! What the Lambda-binary tests share: an Auto Scaling endpoint served here (moto has no
//! lifecycle wait states).

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Auto Scaling's CompleteLifecycleAction, counted: the first completion of a token is
/// accepted, a repeat gets "No active Lifecycle Action found". DescribeAutoScalingInstances
/// answers what it holds: an instance waits in a hook while its action is open.
#[derive(Default)]
pub struct AutoScaling {
    requests: Mutex<Vec<String>>,
    pub accepted: Mutex<HashSet<String>>,
    /// Open actions by token: instance, group, lifecycle state.
    held: Mutex<Vec<(String, String, String, String)>>,
}

impl AutoScaling {
    /// Auto Scaling holds the action `token`: `instance` of `group` waits in `state`.
    pub fn hold(&self, token: &str, instance: &str, group: &str, state: &str) {
        self.held.lock().unwrap().push((
            token.to_owned(),
            instance.to_owned(),
            group.to_owned(),
            state.to_owned(),
        ));
    }

    /// The DescribeAutoScalingGroups answer for the groups named in `form`: each with the
    /// instances of its actions, in their current state.
    fn describe_groups(&self, form: &str) -> String {
        let names: Vec<&str> = form
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| k.starts_with("AutoScalingGroupNames.member."))
            .map(|(_, v)| v)
            .collect();
        let instances: Vec<(String, String)> = {
            let held = self.held.lock().unwrap();
            let mut seen = HashSet::new();
            held.iter()
                .rev()
                .filter(|(_, instance, _, _)| seen.insert(instance.clone()))
                .map(|(_, instance, group, _)| (instance.clone(), group.clone()))
                .collect()
        };
        let mut groups = String::new();
        for name in names {
            let members: String = instances
                .iter()
                .filter(|(_, group)| group == name)
                .map(|(instance, _)| {
                    let state = self.state_of(instance);
                    format!(
                        "<member><InstanceId>{instance}</InstanceId><AvailabilityZone>eu-central-1a\
                         </AvailabilityZone><LifecycleState>{state}</LifecycleState><HealthStatus>\
                         Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn>\
                         </member>"
                    )
                })
                .collect();
            groups.push_str(&format!(
                "<member><AutoScalingGroupName>{name}</AutoScalingGroupName><MinSize>0</MinSize>\
                 <MaxSize>10</MaxSize><DesiredCapacity>1</DesiredCapacity><DefaultCooldown>300\
                 </DefaultCooldown><AvailabilityZones><member>eu-central-1a</member>\
                 </AvailabilityZones><HealthCheckType>EC2</HealthCheckType><CreatedTime>\
                 2026-11-25T10:00:00Z</CreatedTime><Instances>{members}</Instances></member>"
            ));
        }
        format!("<AutoScalingGroups>{groups}</AutoScalingGroups>")
    }

    /// `instance`'s lifecycle state: that of its last action, until it is completed.
    fn state_of(&self, instance: &str) -> String {
        let held = self.held.lock().unwrap();
        let accepted = self.accepted.lock().unwrap();
        held.iter()
            .rev()
            .find(|(_, i, _, _)| i == instance)
            .map(
                |(token, _, _, state)| match (accepted.contains(token), state.as_str()) {
                    (false, state) => state.to_owned(),
                    (true, "Pending:Wait") => "InService".to_owned(),
                    (true, _) => "Terminated".to_owned(),
                },
            )
            .unwrap_or_default()
    }

    /// The DescribeAutoScalingInstances answer for `instance`: the state of its last open
    /// action, `InService` once its launch completed.
    fn describe(&self, instance: &str) -> String {
        let held = self.held.lock().unwrap();
        let accepted = self.accepted.lock().unwrap();
        let member = held
            .iter()
            .rev()
            .find(|(_, i, _, _)| i == instance)
            .map(|(token, _, group, state)| {
                let state = match (accepted.contains(token), state.as_str()) {
                    (false, state) => state,
                    (true, "Pending:Wait") => "InService",
                    (true, _) => "Terminated",
                };
                format!(
                    "<member><InstanceId>{instance}</InstanceId><AutoScalingGroupName>{group}\
                     </AutoScalingGroupName><AvailabilityZone>eu-central-1a</AvailabilityZone>\
                     <LifecycleState>{state}</LifecycleState><HealthStatus>HEALTHY</HealthStatus>\
                     <ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>"
                )
            })
            .unwrap_or_default();
        format!("<AutoScalingInstances>{member}</AutoScalingInstances>")
    }

    pub fn serve(self: &Arc<Self>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let this = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let this = this.clone();
                std::thread::spawn(move || this.answer(stream));
            }
        });
        format!("http://{address}")
    }

    fn answer(&self, stream: std::net::TcpStream) {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" || header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let form = String::from_utf8(body).unwrap();
            let param = |name: &str| {
                form.split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .unwrap_or_default()
                    .to_owned()
            };
            let action = param("Action");
            self.requests.lock().unwrap().push(action.clone());
            let token = param("LifecycleActionToken");
            let fresh =
                action != "CompleteLifecycleAction" || self.accepted.lock().unwrap().insert(token);
            let result = match action.as_str() {
                "DescribeAutoScalingInstances" => self.describe(&param("InstanceIds.member.1")),
                "DescribeAutoScalingGroups" => self.describe_groups(&form),
                _ => String::new(),
            };
            let (status, body) = if fresh {
                (
                    "200 OK",
                    format!(
                        "<{action}Response xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
                         <{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>r\
                         </RequestId></ResponseMetadata></{action}Response>"
                    ),
                )
            } else {
                (
                    "400 Bad Request",
                    "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
                     <Error><Type>Sender</Type><Code>ValidationError</Code><Message>No active \
                     Lifecycle Action found with token</Message></Error><RequestId>r</RequestId>\
                     </ErrorResponse>"
                        .to_owned(),
                )
            };
            write!(
                writer,
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    }

    pub fn count(&self, action: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|a| *a == action).count()
    }
}
